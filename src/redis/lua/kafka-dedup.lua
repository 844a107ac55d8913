-- backend kafka: the rule dedup of one turn of the runner's event loop in one call: first it ends
-- the claims of events that finished, then it checks and claims the keys of events about to run.
-- One call (one round trip, one system call each way) per turn instead of two per event, or two
-- per turn: the runner's cost per event is mostly round trips and system calls.
--
-- Claims (as change-propagation does, BEFORE the run, atomically): identical events in flight
-- together run once (also two in one call: they are handled in order). A claim names its owner (a
-- runner process, "incarnation.seq"); a claim whose owner's alive key (<alive prefix><incarnation>,
-- renewed while that runner lives) is gone is ignored, so a runner killed mid-run never makes its
-- unfinished events look done.
-- Finishes: "done" (the event ran): each key still holding this owner's claim becomes a plain
-- record ("1", "<ms>") for its window. "release" (the run failed, the event goes to a retry or the
-- error topic): each key still holding this owner's claim gets its previous value back (or is
-- deleted), so the retry is not taken for a duplicate. A key claimed by someone else since is left
-- alone.
--
-- Values: id key "1" (ran) or "c:<owner>" (claimed); sha1 key "<run start ms>" or "<ms>:<owner>";
-- root key "<root_event.dt ms>" or "<ms>:<owner>". Values not in these shapes (older versions)
-- count as absent.
--
-- KEYS (3 per event: finishes first, then claims)
--   <prefix>_dedupe_<rule>_<domain>_<meta.id>   <prefix>_dedupe_<rule>_<domain>_<sha1>
--   <prefix>_dedupe_<rule>_<root signature>
-- ARGV
--   1 alive key prefix   2 id window s   3 sha1 window s   4 root window s
--   5 F = number of finishes
--   then 3 per finish (finish i starts at 6 + 3(i-1)):
--   "<owner> <done|release> <flags>" (flags: 3 chars "0"/"1": has an id, a sha1, a root event),
--   previous sha1 value or "", previous root value or "" (as the claim returned them)
--   then 1 per claim (claim j is 6 + 3F + (j-1)), space-separated (fewer arguments: the runner's
--   client pays per argument):
--   "<owner> <now ms> <meta.dt ms or -> <root_event.dt ms or -> <flags> <retry>", owner
--   "<incarnation>.<seq>", now = the claimed run start, retry "1" = only finished runs count, not
--   claims (a retry: its failed attempt's claims may still be there if giving them back failed,
--   and must not make the retry a duplicate)
-- Returns 3 values per claim: duplicate kind ("id" | "sha1" | "root" | ""), previous sha1 value,
-- previous root value ("" when absent; a failed run's finish puts them back).

local alivePrefix = ARGV[1]
local idWindow, sha1Window, rootWindow = ARGV[2], ARGV[3], ARGV[4]
local finishes = tonumber(ARGV[5])
local claimsCount = true

-- ---- finishes ----

local function restore(key, previous, ttl)
  if previous == '' then
    redis.call('DEL', key)
  else
    redis.call('SET', key, previous, 'EX', ttl)
  end
end

local function finishTimed(key, flag, owner, done, previous, ttl)
  if flag ~= '1' then return end
  local value = redis.call('GET', key)
  if not value then return end
  local ms, claimer = string.match(value, '^([0-9]+):(.+)$')
  if claimer ~= owner then return end
  if done then
    redis.call('SET', key, ms, 'EX', ttl)
  else
    restore(key, previous, ttl)
  end
end

local function finishOne(idKey, sha1Key, rootKey, a)
  local owner, how, flags = string.match(ARGV[a], '^(%S+) (%S+) ([01][01][01])$')
  if owner == nil then error('malformed finish argument ' .. ARGV[a]) end
  local done = how == 'done'
  if flags:sub(1, 1) == '1' and redis.call('GET', idKey) == 'c:' .. owner then
    if done then
      redis.call('SET', idKey, '1', 'EX', idWindow)
    else
      restore(idKey, '', idWindow)
    end
  end
  finishTimed(sha1Key, flags:sub(2, 2), owner, done, ARGV[a + 1], sha1Window)
  finishTimed(rootKey, flags:sub(3, 3), owner, done, ARGV[a + 2], rootWindow)
end

-- ---- claims ----

local function aliveClaimer(claimer)
  if not claimsCount then return false end
  local incarnation = string.match(claimer, '^([^.]+)')
  return redis.call('EXISTS', alivePrefix .. incarnation) == 1
end

-- The time in a value, or nil when the value is absent, malformed or a dead runner's claim.
local function liveTime(value)
  if not value then return nil end
  local ms, claimer = string.match(value, '^([0-9]+):([^:]+)$')
  if ms == nil then
    ms = string.match(value, '^([0-9]+)$')
    return ms and tonumber(ms) or nil
  end
  if aliveClaimer(claimer) then return tonumber(ms) end
  return nil
end

local function liveId(value)
  if not value then return false end
  if value == '1' then return true end
  local claimer = string.match(value, '^c:(.+)$')
  return claimer ~= nil and aliveClaimer(claimer)
end

local function claimOne(idKey, sha1Key, rootKey, a)
  local owner, now, dtText, rootDtText, flags, retry =
    string.match(ARGV[a], '^(%S+) (%d+) (%S+) (%S+) ([01][01][01]) ([01])$')
  if owner == nil then error('malformed claim argument ' .. ARGV[a]) end
  local dt, rootDt = tonumber(dtText), tonumber(rootDtText)
  local hasId, hasSha1, hasRoot = flags:sub(1, 1) == '1', flags:sub(2, 2) == '1', flags:sub(3, 3) == '1'
  claimsCount = retry ~= '1'

  if hasId and liveId(redis.call('GET', idKey)) then return 'id', '', '' end

  local prevSha1 = hasSha1 and redis.call('GET', sha1Key) or false
  if hasSha1 then
    local last = liveTime(prevSha1)
    if last ~= nil and ((dt ~= nil and last - 1000 > dt) or (rootDt ~= nil and last - 1000 > rootDt)) then
      return 'sha1', '', ''
    end
  end

  local prevRoot = hasRoot and redis.call('GET', rootKey) or false
  local rootSeen = nil
  if hasRoot then
    rootSeen = liveTime(prevRoot)
    if rootSeen ~= nil and rootDt ~= nil and rootSeen > rootDt then return 'root', '', '' end
  end

  if hasId then redis.call('SET', idKey, 'c:' .. owner, 'EX', idWindow) end
  if hasSha1 then redis.call('SET', sha1Key, now .. ':' .. owner, 'EX', sha1Window) end
  if hasRoot and rootDt ~= nil and (rootSeen == nil or rootSeen < rootDt) then
    redis.call('SET', rootKey, rootDt .. ':' .. owner, 'EX', rootWindow)
  end
  return '', prevSha1 or '', prevRoot or ''
end

for i = 1, finishes do
  finishOne(KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i], 6 + 3 * (i - 1))
end

local out = {}
local claimArgs = 6 + 3 * finishes
for j = 1, #KEYS / 3 - finishes do
  local k = 3 * (finishes + j)
  local kind, prevSha1, prevRoot = claimOne(KEYS[k - 2], KEYS[k - 1], KEYS[k], claimArgs + j - 1)
  out[#out + 1] = kind
  out[#out + 1] = prevSha1
  out[#out + 1] = prevRoot
end
return out
