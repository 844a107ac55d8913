-- The enqueue time of the job a runJobs started now pops first: the right end of l-unclaimed (pop is
-- RPOP). For the runner's pickup-latency metric, which MediaWiki's own pickup delay also measures
-- from this `timestamp` field (whole UNIX seconds). Read-only.
--
-- A plain serialized blob ends with the timestamp field (mediawiki-redis-queue.md §4), so it is read
-- from the blob's tail here; a gzip-enveloped blob is returned whole for the caller to decode.
--
-- KEYS
--   1 <P>:l-unclaimed
--   2 <P>:h-data
-- ARGV
--   (none)
-- Returns the timestamp (integer), the blob (string) when it is not a plain serialized one, or
-- false when the list is empty or the job has no data.

local id = redis.call('LINDEX', KEYS[1], -1)
if not id then return false end
local blob = redis.call('HGET', KEYS[2], id)
if not blob then return false end
local ts = string.match(string.sub(blob, -40), 's:9:"timestamp";i:(%-?%d+);}$')
if ts then return tonumber(ts) end
return blob
