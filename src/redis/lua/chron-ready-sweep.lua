-- jobchron: after a complete pass over a partition, drop what that pass did not confirm.
-- Contribution fields not stamped by this pass belong to queues that left s-queuesWithJobs (e.g.
-- MediaWiki's doDelete); shared-hash fields not refreshed for a while belong to nobody any more
-- (a partition that is down, or removed from the config, or entries left by the original chron).
--
-- KEYS
--   1  jobqueue:aggregator:h-ready-queues:v2
--   2  this partition's contribution hash
--   3… the other partitions' contribution hashes
-- ARGV
--   1 fencing number of the caller's partition lease
--   2 ID of the pass that just completed: own contribution fields with another ID are dropped
--   3 stale cutoff, UNIX s: shared-hash fields older than this are dropped
--   4 now, UNIX s (written to `_epoch`)
-- Returns {own fields dropped, shared fields dropped}, or the error reply "FENCED ...".

local fence = tonumber(ARGV[1])
local stored = tonumber(redis.call('HGET', KEYS[2], '_fence'))
if stored and stored > fence then
  return redis.error_reply('FENCED a newer lease holder of this partition has written here')
end

local passId = ARGV[2]
local staleCutoff = tonumber(ARGV[3])

local function listedElsewhere(field)
  for k = 3, #KEYS do
    if redis.call('HEXISTS', KEYS[k], field) == 1 then return true end
  end
  return false
end

local ownDropped, sharedDropped = 0, 0
local own = redis.call('HGETALL', KEYS[2])
for i = 1, #own, 2 do
  local field, seenBy = own[i], own[i + 1]
  if field ~= '_fence' and seenBy ~= passId then
    redis.call('HDEL', KEYS[2], field)
    ownDropped = ownDropped + 1
    if not listedElsewhere(field) and redis.call('HDEL', KEYS[1], field) == 1 then
      sharedDropped = sharedDropped + 1
    end
  end
end

local shared = redis.call('HGETALL', KEYS[1])
for i = 1, #shared, 2 do
  local field, seen = shared[i], tonumber(shared[i + 1])
  if field ~= '_epoch' and seen and seen < staleCutoff then
    redis.call('HDEL', KEYS[1], field)
    sharedDropped = sharedDropped + 1
  end
end

redis.call('HSET', KEYS[1], '_epoch', ARGV[4])
return {ownDropped, sharedDropped}
