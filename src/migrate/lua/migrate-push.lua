-- jobqueue migrate: stores migrated jobs in one MediaWiki JobQueueRedis queue, each exactly once.
-- A job ID already recorded in the migration's marker set (or already in h-data) is not written
-- again, so a resumed migration never duplicates a job, even one a runner has meanwhile run and
-- acked. Unlike MediaWiki's push, a job is never dropped as a duplicate of another: every source
-- job arrives. State placement follows MediaWiki: ready → LPUSH l-unclaimed (in the order given,
-- the first given is popped first), delayed → z-delayed by release time, abandoned →
-- z-abandoned by claim time; attempts go to h-attempts; dedup maps are filled for ready and delayed
-- jobs, keeping any mapping a live job already holds.
--
-- KEYS
--   1 <P>:l-unclaimed  2 <P>:z-delayed  3 <P>:z-abandoned  4 <P>:h-data  5 <P>:h-attempts
--   6 <P>:h-sha1ById  7 <P>:h-idBySha1  8 global:jobqueue:s-queuesWithJobs  9 marker set of the run
-- ARGV
--   1 queue ID (json_encode([type, domain]))   2 marker TTL in seconds
--   then one sextuple per job: id, state (ready|delayed|abandoned), score, attempts, sha1, blob
-- Returns one character per job: '1' written, '0' already there.

local kUnclaimed, kDelayed, kAbandoned, kData, kAttempts, kSha1ById, kIdBySha1, kQueues, kMarker = unpack(KEYS)
local queueId, markerTtl = ARGV[1], tonumber(ARGV[2])
if (#ARGV - 2) % 6 ~= 0 then
  return redis.error_reply('Unmatched arguments')
end
local out = {}
for i = 3, #ARGV, 6 do
  local id, state, score, attempts, sha1, blob = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  if redis.call('SISMEMBER', kMarker, id) == 1 or redis.call('HEXISTS', kData, id) == 1 then
    out[#out + 1] = '0'
  else
    if state == 'delayed' then
      redis.call('ZADD', kDelayed, score, id)
    elseif state == 'abandoned' then
      redis.call('ZADD', kAbandoned, score, id)
    else
      redis.call('LPUSH', kUnclaimed, id)
    end
    if tonumber(attempts) > 0 then
      redis.call('HSET', kAttempts, id, attempts)
    end
    if sha1 ~= '' and state ~= 'abandoned' then
      redis.call('HSET', kSha1ById, id, sha1)
      redis.call('HSETNX', kIdBySha1, sha1, id)
    end
    redis.call('HSET', kData, id, blob)
    redis.call('SADD', kMarker, id)
    out[#out + 1] = '1'
  end
end
redis.call('EXPIRE', kMarker, markerTtl)
redis.call('SADD', kQueues, queueId)
return table.concat(out)
