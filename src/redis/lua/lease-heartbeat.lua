-- jobchron instance registry on a partition: instances announce themselves here so each can work
-- out its fair share of partitions (ceil(partitions / live instances)). Liveness uses the Redis
-- server clock, so clock skew between jobchron hosts does not matter.
--
-- KEYS
--   1 jobrunner:chron:z-instances (ZSET instance ID -> last heartbeat, server ms)
-- ARGV
--   1 instance ID
--   2 time to live of a heartbeat, ms
--   3 "1" to announce the instance, "0" to leave (on shutdown)
-- Returns the IDs of the live instances.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZRANGE', KEYS[1], 0, -1)
