-- jobchron partition lease: take the lease of this partition if nobody holds it (SET NX PX).
-- Each acquisition gets a fencing number from a counter on the same Redis; the counter is seeded
-- from the server clock (ms) when missing, so it keeps growing even after a restart that lost it.
-- The lease value is "<fence> <holder>", unique per acquisition, and is what renew/release and the
-- maintenance script compare against.
--
-- KEYS
--   1 jobrunner:chron:lease         (STRING, the lease)
--   2 jobrunner:chron:lease-fence   (STRING, the fencing counter)
-- ARGV
--   1 holder: the jobchron instance ID
--   2 lease time to live, ms
-- Returns {1, value, fence} when acquired, or {0, current value, remaining ms} when held by someone.

local current = redis.call('GET', KEYS[1])
if current then
  return {0, current, redis.call('PTTL', KEYS[1])}
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000)))
end
local fence = string.format('%.0f', redis.call('INCR', KEYS[2]))
local value = fence .. ' ' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return {1, value, fence}
