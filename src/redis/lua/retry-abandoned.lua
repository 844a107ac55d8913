-- Operator "retry abandoned jobs": moves jobs from z-abandoned back to l-unclaimed in place,
-- atomically, instead of MediaWiki's manageJobs.php repush-abandoned (which pushes copies and
-- leaves the originals for the chron to prune). The job keeps its ID and blob; h-attempts is
-- cleared so it gets the full number of attempts again; it is LPUSHed to the tail like a new
-- push, so a batch of retried poison jobs does not jump ahead of queued work. The queue ID is
-- SADDed to s-queuesWithJobs so runners and the chron see the queue again.
-- Jobs whose h-data is gone are left where they are (reported as noData), never dropped here.
-- Dedup maps are not re-created (like the chron's recycle of claimed jobs).
--
-- KEYS
--   1 <P>:z-abandoned   2 <P>:l-unclaimed   3 <P>:h-attempts   4 <P>:h-data
--   5 global:jobqueue:s-queuesWithJobs
-- ARGV
--   1 queue ID (the s-queuesWithJobs member)
--   2 limit: with no IDs given, retry up to this many, oldest abandonment first
--   3.. job IDs to retry (optional)
-- Returns {moved, notAbandoned, noData}.

local kAbandoned, kUnclaimed, kAttempts, kData, kQueuesWithJobs = unpack(KEYS)
local ids = {}
if #ARGV > 2 then
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
else
  local limit = tonumber(ARGV[2]) or 0
  if limit > 0 then ids = redis.call('ZRANGE', kAbandoned, 0, limit - 1) end
end
local moved, notAbandoned, noData = 0, 0, 0
for _, id in ipairs(ids) do
  if not redis.call('ZSCORE', kAbandoned, id) then
    notAbandoned = notAbandoned + 1
  elseif redis.call('HEXISTS', kData, id) == 0 then
    noData = noData + 1
  else
    redis.call('ZREM', kAbandoned, id)
    redis.call('HDEL', kAttempts, id)
    redis.call('LPUSH', kUnclaimed, id)
    moved = moved + 1
  end
end
if moved > 0 then redis.call('SADD', kQueuesWithJobs, ARGV[1]) end
return {moved, notAbandoned, noData}
