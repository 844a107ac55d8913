-- When the job a runJobs started now pops first became ready: the right end of l-unclaimed (pop is
-- RPOP). For the runner's pickup-latency metric, measured like MediaWiki's own pickup delay: from
-- the job's release time (`rtimestamp`) if it was delayed, else from its enqueue `timestamp` (both
-- whole UNIX seconds). Read-only.
--
-- A plain serialized blob ends with rtimestamp, uuid, sha1, timestamp (mediawiki-redis-queue.md §4),
-- so both are read from the blob's tail here; any other blob (gzip envelope) is returned whole for
-- the caller to decode.
--
-- KEYS
--   1 <P>:l-unclaimed
--   2 <P>:h-data
-- ARGV
--   (none)
-- Returns the ready time (integer), the blob (string) when its tail is not the plain layout, or
-- false when the list is empty or the job has no data.

local id = redis.call('LINDEX', KEYS[1], -1)
if not id then return false end
local blob = redis.call('HGET', KEYS[2], id)
if not blob then return false end
local tail = string.sub(blob, -256)
local ts = string.match(tail, 's:9:"timestamp";i:(%-?%d+);}$')
if not ts then return blob end
local rts = string.match(tail, 's:10:"rtimestamp";i:(%-?%d+);s:4:"uuid"')
  or string.match(tail, 's:10:"rtimestamp";s:%d+:"(%-?%d+)";s:4:"uuid"')
ts = tonumber(ts)
rts = tonumber(rts or 0) or 0
if rts > ts then return rts end
return ts
