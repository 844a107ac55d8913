-- Operator "delete one job" (the dashboard's queue page): removes one job ID from whichever state
-- list holds it and drops its blob, attempts and dedup entries, atomically, so no half-deleted job
-- is left for a runner or the chron. The dedup maps are cleared only where they still point at
-- this job (a newer duplicate keeps its own entry). The queue stays in s-queuesWithJobs (the chron
-- and MediaWiki remove empty queues from it as they do for any queue).
--
-- KEYS
--   1 <P>:l-unclaimed   2 <P>:z-claimed   3 <P>:z-abandoned   4 <P>:z-delayed
--   5 <P>:h-data        6 <P>:h-attempts  7 <P>:h-idBySha1    8 <P>:h-sha1ById
-- ARGV
--   1 job ID
-- Returns {found (1 when the ID was in a state list or had data), state ("unclaimed", "claimed",
-- "abandoned", "delayed" or "")}.

local kUnclaimed, kClaimed, kAbandoned, kDelayed, kData, kAttempts, kIdBySha1, kSha1ById = unpack(KEYS)
local id = ARGV[1]
local state = ''
if redis.call('LREM', kUnclaimed, 0, id) > 0 then state = 'unclaimed' end
if redis.call('ZREM', kClaimed, id) > 0 then state = 'claimed' end
if redis.call('ZREM', kAbandoned, id) > 0 then state = 'abandoned' end
if redis.call('ZREM', kDelayed, id) > 0 then state = 'delayed' end
local hadData = redis.call('HDEL', kData, id)
redis.call('HDEL', kAttempts, id)
local sha1 = redis.call('HGET', kSha1ById, id)
if sha1 then
  redis.call('HDEL', kSha1ById, id)
  if redis.call('HGET', kIdBySha1, sha1) == id then redis.call('HDEL', kIdBySha1, sha1) end
end
local found = 0
if state ~= '' or hadData > 0 then found = 1 end
return {found, state}
