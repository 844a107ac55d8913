-- jobchron: keep the ready-queue hash current on one aggregator, incrementally and race-free.
-- Several jobchron instances write here at once, each for the partitions it holds. Each partition has
-- its own contribution hash (field -> ID of the pass that last saw it ready), written only by that partition's
-- lease holder and fenced by the lease's fencing number, so a paused instance that lost its lease
-- cannot overwrite a newer holder. The shared hash keeps MediaWiki's ≤1.32 format: field
-- rawurlencode(type)/rawurlencode(domain) -> UNIX s, plus `_epoch`. A field leaves it only when no
-- partition lists it as ready (a (wiki, type) queue can live on several partitions).
--
-- KEYS
--   1  jobqueue:aggregator:h-ready-queues:v2
--   2  this partition's contribution hash (jobrunner:chron:h-ready-queues:v2:partition:<p>)
--   3… the other partitions' contribution hashes
-- ARGV
--   1 fencing number of the caller's partition lease
--   2 pass ID (unique per pass over this partition)
--   3 now, UNIX s
--   4 time to live of the contribution hash, ms (it vanishes if its partition leaves the config)
--   5 R = number of ready fields; then R fields of ready queues; then fields of queues not ready
-- Returns 1, or the error reply "FENCED ..." when a newer lease holder has written this partition.

local fence = tonumber(ARGV[1])
local stored = tonumber(redis.call('HGET', KEYS[2], '_fence'))
if stored and stored > fence then
  return redis.error_reply('FENCED a newer lease holder of this partition has written here')
end
redis.call('HSET', KEYS[2], '_fence', ARGV[1])

local passId = ARGV[2]
local now = ARGV[3]
local readyCount = tonumber(ARGV[5])
for i = 6, 5 + readyCount do
  redis.call('HSET', KEYS[2], ARGV[i], passId)
  redis.call('HSET', KEYS[1], ARGV[i], now)
end

local function listedElsewhere(field)
  for k = 3, #KEYS do
    if redis.call('HEXISTS', KEYS[k], field) == 1 then return true end
  end
  return false
end

for i = 6 + readyCount, #ARGV do
  local field = ARGV[i]
  redis.call('HDEL', KEYS[2], field)
  if redis.call('HEXISTS', KEYS[1], field) == 1 and not listedElsewhere(field) then
    redis.call('HDEL', KEYS[1], field)
  end
end

redis.call('HSET', KEYS[1], '_epoch', now)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
