-- backend kafka: checks one event against the rule's dedup keys and, when it is not a duplicate,
-- claims them BEFORE the event runs (as change-propagation does), atomically, so identical events in
-- flight together run once. A claim names its owner (a runner process, "incarnation.seq"); a claim
-- whose owner's alive key (<alive prefix><incarnation>, renewed while that runner lives) is gone is
-- ignored, so a runner killed mid-run never makes its unfinished events look done.
--
-- Values: id key "1" (ran) or "c:<owner>" (claimed); sha1 key "<run start ms>" or "<ms>:<owner>";
-- root key "<root_event.dt ms>" or "<ms>:<owner>". Values not in these shapes (older versions)
-- count as absent.
--
-- KEYS
--   1 <prefix>_dedupe_<rule>_<domain>_<meta.id>   2 <prefix>_dedupe_<rule>_<domain>_<sha1>
--   3 <prefix>_dedupe_<rule>_<root signature>
-- ARGV
--   1 owner ("<incarnation>.<seq>")   2 alive key prefix   3 now, ms (the claimed run start)
--   4 meta.dt ms or ""   5 root_event.dt ms or ""
--   6 "1" when the event has an id, 7 ... a sha1, 8 ... a root event
--   9 id window s   10 sha1 window s   11 root window s
--   12 "1" = only finished runs count, not claims (a retry: its failed attempt's claims may still
--      be there if giving them back failed, and must not make the retry a duplicate)
-- Returns { duplicate kind ("id" | "sha1" | "root" | ""), previous sha1 value, previous root value }
-- (previous values are "" when absent; kafka-dedup-finish.lua puts them back after a failed run).

local owner, alivePrefix, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local dt, rootDt = tonumber(ARGV[4]), tonumber(ARGV[5])
local hasId, hasSha1, hasRoot = ARGV[6] == '1', ARGV[7] == '1', ARGV[8] == '1'
local claimsCount = ARGV[12] ~= '1'

-- The time in a value, or nil when the value is absent, malformed or a dead runner's claim.
local function liveTime(value)
  if not value then return nil end
  local ms, claimer = string.match(value, '^([0-9]+):([^:]+)$')
  if ms == nil then
    ms = string.match(value, '^([0-9]+)$')
    return ms and tonumber(ms) or nil
  end
  local incarnation = string.match(claimer, '^([^.]+)')
  if claimsCount and redis.call('EXISTS', alivePrefix .. incarnation) == 1 then return tonumber(ms) end
  return nil
end

local function liveId(value)
  if not value then return false end
  if value == '1' then return true end
  local claimer = string.match(value, '^c:(.+)$')
  if claimer == nil or not claimsCount then return false end
  local incarnation = string.match(claimer, '^([^.]+)')
  return redis.call('EXISTS', alivePrefix .. incarnation) == 1
end

if hasId and liveId(redis.call('GET', KEYS[1])) then return { 'id', '', '' } end

local prevSha1 = hasSha1 and redis.call('GET', KEYS[2]) or false
if hasSha1 then
  local last = liveTime(prevSha1)
  if last ~= nil and ((dt ~= nil and last - 1000 > dt) or (rootDt ~= nil and last - 1000 > rootDt)) then
    return { 'sha1', '', '' }
  end
end

local prevRoot = hasRoot and redis.call('GET', KEYS[3]) or false
local rootSeen = nil
if hasRoot then
  rootSeen = liveTime(prevRoot)
  if rootSeen ~= nil and rootDt ~= nil and rootSeen > rootDt then return { 'root', '', '' } end
end

if hasId then redis.call('SET', KEYS[1], 'c:' .. owner, 'EX', ARGV[9]) end
if hasSha1 then redis.call('SET', KEYS[2], now .. ':' .. owner, 'EX', ARGV[10]) end
if hasRoot and rootDt ~= nil and (rootSeen == nil or rootSeen < rootDt) then
  redis.call('SET', KEYS[3], rootDt .. ':' .. owner, 'EX', ARGV[11])
end
return { '', prevSha1 or '', prevRoot or '' }
