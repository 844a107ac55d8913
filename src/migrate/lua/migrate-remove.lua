-- jobqueue migrate --delete-source: removes verified jobs from one MediaWiki JobQueueRedis queue,
-- each only while its h-data blob is still byte-for-byte the one that was copied and verified
-- (compared by SHA-1), wherever the job sits (l-unclaimed, z-delayed, z-claimed, z-abandoned).
-- Pass IDs in pop order: LREM searches from the tail, where the next job to pop sits.
--
-- KEYS
--   1 <P>:l-unclaimed  2 <P>:z-delayed  3 <P>:z-claimed  4 <P>:z-abandoned  5 <P>:h-data
--   6 <P>:h-attempts  7 <P>:h-sha1ById  8 <P>:h-idBySha1  9 global:jobqueue:s-queuesWithJobs
-- ARGV
--   1 queue ID (json_encode([type, domain])), then pairs: id, SHA-1 hex of its verified blob
-- Returns {deleted count, kept id, kept id, ...}.

local kUnclaimed, kDelayed, kClaimed, kAbandoned, kData, kAttempts, kSha1ById, kIdBySha1, kQueues = unpack(KEYS)
local queueId = ARGV[1]
if (#ARGV - 1) % 2 ~= 0 then
  return redis.error_reply('Unmatched arguments')
end
local deleted = 0
local kept = {}
for i = 2, #ARGV, 2 do
  local id, expected = ARGV[i], ARGV[i + 1]
  local blob = redis.call('HGET', kData, id)
  if blob and redis.sha1hex(blob) == expected then
    redis.call('LREM', kUnclaimed, -1, id)
    redis.call('ZREM', kDelayed, id)
    redis.call('ZREM', kClaimed, id)
    redis.call('ZREM', kAbandoned, id)
    redis.call('HDEL', kData, id)
    redis.call('HDEL', kAttempts, id)
    local sha1 = redis.call('HGET', kSha1ById, id)
    if sha1 then
      redis.call('HDEL', kSha1ById, id)
      if redis.call('HGET', kIdBySha1, sha1) == id then
        redis.call('HDEL', kIdBySha1, sha1)
      end
    end
    deleted = deleted + 1
  else
    kept[#kept + 1] = id
  end
end
if redis.call('HLEN', kData) == 0 then
  redis.call('SREM', kQueues, queueId)
end
local out = { deleted }
for _, id in ipairs(kept) do
  out[#out + 1] = id
end
return out
