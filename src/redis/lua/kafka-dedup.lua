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
-- The runner's client pays per argument, per byte and per reply element (it builds and parses them
-- on the one core that runs every event), so the whole turn travels as two JSON arguments and
-- comes back as one string plus the previous values only events with a sha1 or root need; the
-- keys are built here from their parts:
--   <key base><rule>_<domain>_<meta.id>   <key base><rule>_<domain>_<sha1>
--   <key base><rule>_<root signature>
-- The dedup store is one standalone server (the first redis.aggregators entry), never a cluster,
-- so keys the script builds itself are fine.
--
-- KEYS: none (built from ARGV as above).
-- ARGV
--   1 alive key prefix   2 this runner's incarnation   3 id window s   4 sha1 window s
--   5 root window s   6 key base ("<prefix>_dedupe_")
--   7 finishes, a flat JSON array; per finish:
--     code "<d|r><flags>" (d = done, r = release; flags: 3 chars "0"/"1": has an id, a sha1, a
--     root event), rule, seq (owner "<incarnation>.<seq>"), then domain if it has an id or a
--     sha1, meta.id if it has an id, sha1 and the previous sha1 value if it has a sha1, root
--     signature and the previous root value if it has a root event (previous values as the claim
--     returned them, "" when absent)
--   8 claims, a flat JSON array; per claim:
--     code "<flags><retry>" (retry "1" = only finished runs count, not claims: a retry's failed
--     attempt's claims may still be there if giving them back failed, and must not make the retry
--     a duplicate), rule, seq, then domain if it has an id or a sha1, meta.id if it has an id,
--     sha1, the claimed run start ms and meta.dt ms (or "-") if it has a sha1, root signature if it
--     has a root event, root_event.dt ms (or "-") if it has a sha1 or a root event (times are
--     whole numbers)
-- Returns an array: first one string with a character per claim, its duplicate kind ("i" id,
-- "s" sha1, "r" root, "-" none), then for every claim with a sha1 or a root event (in order,
-- duplicates too) its previous sha1 value and previous root value ("" when absent; a failed run's
-- finish puts them back).

local alivePrefix, incarnation = ARGV[1], ARGV[2]
local idWindow, sha1Window, rootWindow = ARGV[3], ARGV[4], ARGV[5]
local base = ARGV[6]
local finishes = cjson.decode(ARGV[7])
local claims = cjson.decode(ARGV[8])
local claimsCount = true

local function text(value, what)
  if type(value) ~= 'string' then error('kafka-dedup: ' .. what .. ' is not a string') end
  return value
end

local function ownerOf(seq)
  if type(seq) ~= 'number' then error('kafka-dedup: seq is not a number') end
  return incarnation .. '.' .. string.format('%d', seq)
end

-- ---- finishes ----

local function restore(key, previous, ttl)
  if previous == '' then
    redis.call('DEL', key)
  else
    redis.call('SET', key, previous, 'EX', ttl)
  end
end

local function finishTimed(key, owner, done, previous, ttl)
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

-- Ends the finish starting at finishes[i]; returns the index of the next one.
local function finishOne(i)
  local code = text(finishes[i], 'finish code')
  local how, hasId, hasSha1, hasRoot = string.match(code, '^([dr])([01])([01])([01])$')
  if how == nil then error('kafka-dedup: malformed finish code ' .. code) end
  local rule = text(finishes[i + 1], 'rule')
  local owner = ownerOf(finishes[i + 2])
  local done = how == 'd'
  i = i + 3
  local domain
  if hasId == '1' or hasSha1 == '1' then
    domain = text(finishes[i], 'domain')
    i = i + 1
  end
  if hasId == '1' then
    local idKey = base .. rule .. '_' .. domain .. '_' .. text(finishes[i], 'id')
    i = i + 1
    if redis.call('GET', idKey) == 'c:' .. owner then
      if done then
        redis.call('SET', idKey, '1', 'EX', idWindow)
      else
        restore(idKey, '', idWindow)
      end
    end
  end
  if hasSha1 == '1' then
    local sha1Key = base .. rule .. '_' .. domain .. '_' .. text(finishes[i], 'sha1')
    finishTimed(sha1Key, owner, done, text(finishes[i + 1], 'previous sha1 value'), sha1Window)
    i = i + 2
  end
  if hasRoot == '1' then
    local rootKey = base .. rule .. '_' .. text(finishes[i], 'root signature')
    finishTimed(rootKey, owner, done, text(finishes[i + 1], 'previous root value'), rootWindow)
    i = i + 2
  end
  return i
end

-- ---- claims ----

local function aliveClaimer(claimer)
  if not claimsCount then return false end
  local claimerIncarnation = string.match(claimer, '^([^.]+)')
  return redis.call('EXISTS', alivePrefix .. claimerIncarnation) == 1
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

-- Reads the claim starting at claims[i]: its fields, and the index of the next one.
local function readClaim(i)
  local code = text(claims[i], 'claim code')
  local hasId, hasSha1, hasRoot, retry = string.match(code, '^([01])([01])([01])([01])$')
  if hasId == nil then error('kafka-dedup: malformed claim code ' .. code) end
  local c = {
    rule = text(claims[i + 1], 'rule'),
    owner = ownerOf(claims[i + 2]),
    hasId = hasId == '1',
    hasSha1 = hasSha1 == '1',
    hasRoot = hasRoot == '1',
    retry = retry == '1',
  }
  i = i + 3
  if c.hasId or c.hasSha1 then
    c.domain = text(claims[i], 'domain')
    i = i + 1
  end
  if c.hasId then
    c.idKey = base .. c.rule .. '_' .. c.domain .. '_' .. text(claims[i], 'id')
    i = i + 1
  end
  if c.hasSha1 then
    c.sha1Key = base .. c.rule .. '_' .. c.domain .. '_' .. text(claims[i], 'sha1')
    local now = claims[i + 1]
    if type(now) ~= 'number' or now < 0 then error('kafka-dedup: malformed run start') end
    c.now = string.format('%d', now)
    c.dt = tonumber(claims[i + 2])
    i = i + 3
  end
  if c.hasRoot then
    c.rootKey = base .. c.rule .. '_' .. text(claims[i], 'root signature')
    i = i + 1
  end
  if c.hasSha1 or c.hasRoot then
    c.rootDt = tonumber(claims[i])
    i = i + 1
  end
  return c, i
end

local function claimOne(c)
  claimsCount = not c.retry
  local dt, rootDt = c.dt, c.rootDt

  if c.hasId and liveId(redis.call('GET', c.idKey)) then return 'i', '', '' end

  local prevSha1 = c.hasSha1 and redis.call('GET', c.sha1Key) or false
  if c.hasSha1 then
    local last = liveTime(prevSha1)
    if last ~= nil and ((dt ~= nil and last - 1000 > dt) or (rootDt ~= nil and last - 1000 > rootDt)) then
      return 's', '', ''
    end
  end

  local prevRoot = c.hasRoot and redis.call('GET', c.rootKey) or false
  local rootSeen = nil
  if c.hasRoot then
    rootSeen = liveTime(prevRoot)
    if rootSeen ~= nil and rootDt ~= nil and rootSeen > rootDt then return 'r', '', '' end
  end

  if c.hasId then redis.call('SET', c.idKey, 'c:' .. c.owner, 'EX', idWindow) end
  if c.hasSha1 then redis.call('SET', c.sha1Key, c.now .. ':' .. c.owner, 'EX', sha1Window) end
  if c.hasRoot and rootDt ~= nil and (rootSeen == nil or rootSeen < rootDt) then
    redis.call('SET', c.rootKey, rootDt .. ':' .. c.owner, 'EX', rootWindow)
  end
  return '-', prevSha1 or '', prevRoot or ''
end

local i = 1
while i <= #finishes do
  i = finishOne(i)
end

local kinds = {}
local out = { '' }
i = 1
while i <= #claims do
  local c
  c, i = readClaim(i)
  local kind, prevSha1, prevRoot = claimOne(c)
  kinds[#kinds + 1] = kind
  if c.hasSha1 or c.hasRoot then
    out[#out + 1] = prevSha1
    out[#out + 1] = prevRoot
  end
end
out[1] = table.concat(kinds)
return out
