-- Root-job registration after a push, as JobQueueRedis::doDeduplicateRootJob() does it for each
-- root job (mediawiki-redis-queue.md §9.2), but atomically and in one round trip: a key holding a
-- timestamp >= the job's (PHP compares the 14-digit TS_MW strings numerically) is left alone;
-- otherwise it is SET to the job's rootJobTimestamp with the 28-day TTL.
--
-- KEYS
--   1..n  global:jobqueue:<domain>:<type>:rootjob:<signature>, one per root job
-- ARGV
--   1     TTL in seconds (MediaWiki: 2419200)
--   2..n+1 the rootJobTimestamp of the job whose key is KEYS[i] (i = ARGV index - 1)
-- Returns the number of keys written.

local ttl = ARGV[1]
local written = 0
for i = 1, #KEYS do
  local ts = ARGV[i + 1]
  local stored = redis.call('GET', KEYS[i])
  local newer = false
  if stored and stored ~= '' and stored ~= '0' then
    local a, b = tonumber(stored), tonumber(ts)
    if a and b then newer = a >= b else newer = stored >= ts end
  end
  if not newer then
    redis.call('SET', KEYS[i], ts, 'EX', ttl)
    written = written + 1
  end
end
return written
