-- MediaWiki 1.39 JobQueueRedis::pushBlobs(), step for step (mediawiki-redis-queue.md §5.1), so jobs
-- pushed by jobrunner are stored exactly as MediaWiki stores its own: a job is skipped when its
-- non-empty sha1 is already in h-idBySha1 (an identical job is unclaimed or delayed); a job with
-- rtimestamp > 0 goes to z-delayed, others are LPUSHed to l-unclaimed (the tail); dedup maps and
-- h-data are written; the queue ID is SADDed to s-queuesWithJobs even when nothing was pushed.
--
-- KEYS
--   1 <P>:l-unclaimed   2 <P>:h-sha1ById   3 <P>:h-idBySha1   4 <P>:z-delayed   5 <P>:h-data
--   6 global:jobqueue:s-queuesWithJobs
-- ARGV
--   1 queue ID (json_encode([type, domain]))
--   then one quadruple per job: uuid, sha1 ('' = no dedup), rtimestamp (UNIX s, 0 = ready), blob
-- Returns the number of jobs pushed (the rest were duplicates), or the error "Unmatched arguments".

local kUnclaimed, kSha1ById, kIdBySha1, kDelayed, kData, kQueuesWithJobs = unpack(KEYS)
local queueId = ARGV[1]
if (#ARGV - 1) % 4 ~= 0 then
  return redis.error_reply('Unmatched arguments')
end
local pushed = 0
for i = 2, #ARGV, 4 do
  local id, sha1, rtimestamp, blob = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if sha1 == '' or redis.call('HEXISTS', kIdBySha1, sha1) == 0 then
    if 1 * rtimestamp > 0 then
      redis.call('ZADD', kDelayed, rtimestamp, id)
    else
      redis.call('LPUSH', kUnclaimed, id)
    end
    if sha1 ~= '' then
      redis.call('HSET', kSha1ById, id, sha1)
      redis.call('HSET', kIdBySha1, sha1, id)
    end
    redis.call('HSET', kData, id, blob)
    pushed = pushed + 1
  end
end
redis.call('SADD', kQueuesWithJobs, queueId)
return pushed
