-- backend kafka: the rule dedup of one turn of the runner's event loop in one call: first it ends
-- the claims of events that finished, then it checks and claims the keys of events about to run.
-- One call (one round trip, one system call each way) per turn instead of two per event, or two
-- per turn: the runner's cost per event is mostly round trips and system calls.
--
-- Claims (as change-propagation does, BEFORE the run, atomically): identical events in flight
-- together run once (also two in one call: they are handled in order). A claim names its owner (a
-- runner process, "incarnation.seq"); a claim whose owner's alive key (<alive prefix><incarnation>,
-- renewed while that runner lives) is gone counts only if its owner's done record says it ran, so
-- a runner killed mid-run never makes its unfinished events look done.
-- An ID key claimed by ANOTHER live process and not run by its record answers "w" (wait), not "i",
-- and writes nothing: that event is in flight elsewhere (typically its partition moved here from
-- that runner while it ran it), and skipping it would lose it if that runner died or its run failed
-- before a retry was produced. The caller keeps it uncommitted and asks again until "i" (it ran)
-- or a claim (released, or its owner died). A claim of this same process stays "i": its original
-- is in this process's lane window, uncommitted until it finished (or, if its partition moved away
-- while it ran, waited for by the runner itself: src/kafka/lost-runs.ts). Sha1 and root duplicates
-- of live claims are different events whose originals are uncommitted somewhere: "s"/"r" as before.
-- Done records: an ID key keeps its claim value after the run. What ran is in its owner's done
-- record (<done prefix><incarnation>), which this call writes first: "<from>:<next>[;<d1>,<d2>...]"
-- says every seq of that runner from <from> up to below <next> ran, except <next> - d for each d
-- (claims still running, and claims whose end Redis has not confirmed). One SET per call instead of a GET and a SET per
-- event (most events have only an ID); the list stays as short as the runner's events in flight.
-- Finishes: "done" (the event ran): each sha1 and root key still holding this owner's claim
-- becomes a plain record ("<ms>") for its window (its ID key is covered by the done record).
-- "release" (the run failed, the event goes to a retry or the error topic): each key still holding
-- this owner's claim gets its previous value back (or is deleted), so the retry is not taken for a
-- duplicate. A key claimed by someone else since is left alone.
--
-- Values: id key "c:<owner>" (claimed; ran if its owner's done record says so) or "1" (ran, as
-- earlier versions wrote); sha1 key "<run start ms>" or "<ms>:<owner>"; root key "<root_event.dt
-- ms>" or "<ms>:<owner>". Values not in these shapes count as absent.
--
-- The runner's client pays per argument, per byte and per reply element (it builds and parses them
-- on the one core that runs every event), so the whole turn travels as two JSON arguments and
-- comes back as one string plus the previous values only events with a sha1 or root need; the
-- keys are built here from their parts:
--   <key base><rule>_<domain>_<meta.id>   <key base><rule>_<domain>_<sha1>
--   <key base><rule>_<root signature>
-- The dedup store is one standalone server (the first redis.aggregators entry), never a cluster,
-- so keys the script builds itself are fine. Needs Redis 7.0 or later (SET with both NX and GET).
-- An event with only an ID (most events) costs one Redis command: a SET NX GET to claim.
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
--     code "<flags><retry>" (retry "1" = only runs count, not claims: a retry's failed attempt's
--     claims may still be there if giving them back failed, and must not make the retry a
--     duplicate), rule, seq, then domain if it has an id or a sha1, meta.id if it has an id,
--     sha1, the claimed run start ms and meta.dt ms (or "-") if it has a sha1, root signature if it
--     has a root event, root_event.dt ms (or "-") if it has a sha1 or a root event (times are
--     whole numbers)
--   9 done record prefix   10 this runner's done record as above, "" to leave it as it is
-- Returns an array: first one string with a character per claim, its duplicate kind ("i" id,
-- "s" sha1, "r" root, "w" wait: claimed by another live process and not run yet; "-" none:
-- claimed now; nothing is written for the others), then for every claim with a sha1 or a root
-- event (in order, duplicates and waits too) its previous sha1 value and previous root value (""
-- when absent; a failed run's finish puts them back).

local alivePrefix, incarnation = ARGV[1], ARGV[2]
local idWindow, sha1Window, rootWindow = ARGV[3], ARGV[4], ARGV[5]
local base = ARGV[6]
local finishes = cjson.decode(ARGV[7])
local claims = cjson.decode(ARGV[8])
local donePrefix, ownRecord = ARGV[9], ARGV[10]
local claimsCount = true
local ownerBase = incarnation .. '.'

-- Per call, not per event: the valid codes (a lookup instead of a pattern match per event) and each
-- rule's key prefix.
local finishCodes, claimCodes = {}, {}
for bits = 0, 7 do
  local id, sha1, root = bits % 2 == 1, math.floor(bits / 2) % 2 == 1, bits >= 4
  local flags = (id and '1' or '0') .. (sha1 and '1' or '0') .. (root and '1' or '0')
  finishCodes['d' .. flags] = { true, id, sha1, root }
  finishCodes['r' .. flags] = { false, id, sha1, root }
  claimCodes[flags .. '0'] = { false, id, sha1, root }
  claimCodes[flags .. '1'] = { true, id, sha1, root }
end
local prefixes = {}

if ownRecord ~= '' then
  if not string.match(ownRecord, '^[0-9]+:[0-9]+;?[0-9,]*$') then error('kafka-dedup: malformed done record') end
  redis.call('SET', donePrefix .. incarnation, ownRecord, 'EX', idWindow)
end

local function prefixOf(rule)
  local prefix = prefixes[rule]
  if prefix == nil then
    prefix = base .. rule .. '_'
    prefixes[rule] = prefix
  end
  return prefix
end

-- "<incarnation>.<seq>"; seq is a whole number below 1e14, so Lua writes it with all its digits.
local function ownerOf(seq)
  if type(seq) ~= 'number' or seq % 1 ~= 0 or seq < 0 or seq >= 1e14 then
    error('kafka-dedup: malformed seq ' .. tostring(seq))
  end
  return ownerBase .. seq
end

local function malformed(what, code)
  error('kafka-dedup: malformed ' .. what .. ' code ' .. tostring(code))
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
  local code = finishCodes[finishes[i]]
  if code == nil then malformed('finish', finishes[i]) end
  local done, hasId, hasSha1, hasRoot = code[1], code[2], code[3], code[4]
  local prefix = prefixOf(finishes[i + 1])
  local owner = ownerOf(finishes[i + 2])
  i = i + 3
  local domainPrefix
  if hasId or hasSha1 then
    domainPrefix = prefix .. finishes[i] .. '_'
    i = i + 1
  end
  if hasId then
    local idKey = domainPrefix .. finishes[i]
    i = i + 1
    -- A run is in the done record; a failed one gives its claim back.
    if not done and redis.call('GET', idKey) == 'c:' .. owner then restore(idKey, '', idWindow) end
  end
  if hasSha1 then
    finishTimed(domainPrefix .. finishes[i], owner, done, finishes[i + 1], sha1Window)
    i = i + 2
  end
  if hasRoot then
    finishTimed(prefix .. finishes[i], owner, done, finishes[i + 1], rootWindow)
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

-- Done records read in this call, by incarnation: { from, next, open = { [seq] = true } }.
local records = {}

local function recordOf(claimerIncarnation)
  local record = records[claimerIncarnation]
  if record ~= nil then return record end
  record = { from = 0, next = 0, open = {} }
  local value = redis.call('GET', donePrefix .. claimerIncarnation)
  local fromText, nextText, rest = string.match(value or '', '^([0-9]+):([0-9]+);?([0-9,]*)$')
  if nextText ~= nil then
    record.from = tonumber(fromText)
    record.next = tonumber(nextText)
    for back in string.gmatch(rest, '[0-9]+') do record.open[record.next - tonumber(back)] = true end
  end
  records[claimerIncarnation] = record
  return record
end

-- Whether the claim "<incarnation>.<seq>" ran, by its owner's done record.
local function ranBy(claimer)
  local claimerIncarnation, seqText = string.match(claimer, '^([^.]+)%.([0-9]+)$')
  if claimerIncarnation == nil then return false end
  local record = recordOf(claimerIncarnation)
  local seq = tonumber(seqText)
  return seq >= record.from and seq < record.next and not record.open[seq]
end

-- What an ID key's value means for a claim: 'i' (ran, or a live claim of this process), 'w' (a
-- live claim of another process, not run yet) or nil (free: absent, malformed, a dead process's
-- unrun claim, or any unrun claim for a retry).
local function idHeld(value)
  if not value then return nil end
  if value == '1' then return 'i' end
  local claimer = string.match(value, '^c:(.+)$')
  if claimer == nil then return nil end
  if claimsCount and string.sub(claimer, 1, #ownerBase) == ownerBase then return 'i' end
  if ranBy(claimer) then return 'i' end
  if aliveClaimer(claimer) then return 'w' end
  return nil
end

-- Checks and claims the claim starting at claims[i]. Returns its kind ('i', 's', 'r', 'w' or '-'),
-- the previous sha1 and root values (nil when it has neither a sha1 nor a root event) and the
-- index of the next claim.
local function claimOne(i)
  local code = claimCodes[claims[i]]
  if code == nil then malformed('claim', claims[i]) end
  local hasId, hasSha1, hasRoot = code[2], code[3], code[4]
  claimsCount = not code[1]
  local prefix = prefixOf(claims[i + 1])
  local owner = ownerOf(claims[i + 2])
  i = i + 3
  local domainPrefix, idKey, sha1Key, rootKey, now, dt, rootDt
  if hasId or hasSha1 then
    domainPrefix = prefix .. claims[i] .. '_'
    i = i + 1
  end
  if hasId then
    idKey = domainPrefix .. claims[i]
    i = i + 1
  end
  if not (hasSha1 or hasRoot) then
    if not hasId then return '-', nil, nil, i end
    -- An event with an ID only (most): one SET claims the key when it is free; a value found there
    -- decides as below, and a dead or ignored claim is taken over.
    local value = redis.call('SET', idKey, 'c:' .. owner, 'EX', idWindow, 'NX', 'GET')
    if not value then return '-', nil, nil, i end
    local held = idHeld(value)
    if held then return held, nil, nil, i end
    redis.call('SET', idKey, 'c:' .. owner, 'EX', idWindow)
    return '-', nil, nil, i
  end
  if hasSha1 then
    sha1Key = domainPrefix .. claims[i]
    if type(claims[i + 1]) ~= 'number' or claims[i + 1] < 0 then error('kafka-dedup: malformed run start') end
    now = string.format('%d', claims[i + 1])
    dt = tonumber(claims[i + 2])
    i = i + 3
  end
  if hasRoot then
    rootKey = prefix .. claims[i]
    i = i + 1
  end
  rootDt = tonumber(claims[i])
  i = i + 1

  if hasId then
    local held = idHeld(redis.call('GET', idKey))
    if held then return held, '', '', i end
  end

  local prevSha1 = hasSha1 and redis.call('GET', sha1Key) or false
  if hasSha1 then
    local last = liveTime(prevSha1)
    if last ~= nil and ((dt ~= nil and last - 1000 > dt) or (rootDt ~= nil and last - 1000 > rootDt)) then
      return 's', '', '', i
    end
  end

  local prevRoot = hasRoot and redis.call('GET', rootKey) or false
  local rootSeen = nil
  if hasRoot then
    rootSeen = liveTime(prevRoot)
    if rootSeen ~= nil and rootDt ~= nil and rootSeen > rootDt then return 'r', '', '', i end
  end

  if hasId then redis.call('SET', idKey, 'c:' .. owner, 'EX', idWindow) end
  if hasSha1 then redis.call('SET', sha1Key, now .. ':' .. owner, 'EX', sha1Window) end
  if hasRoot and rootDt ~= nil and (rootSeen == nil or rootSeen < rootDt) then
    redis.call('SET', rootKey, rootDt .. ':' .. owner, 'EX', rootWindow)
  end
  return '-', prevSha1 or '', prevRoot or '', i
end

local i = 1
while i <= #finishes do
  i = finishOne(i)
end

local kinds = {}
local out = { '' }
local n = 0
i = 1
while i <= #claims do
  local kind, prevSha1, prevRoot
  kind, prevSha1, prevRoot, i = claimOne(i)
  n = n + 1
  kinds[n] = kind
  if prevSha1 ~= nil then
    out[#out + 1] = prevSha1
    out[#out + 1] = prevRoot
  end
end
out[1] = table.concat(kinds)
return out
