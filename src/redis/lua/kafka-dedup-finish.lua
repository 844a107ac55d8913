-- backend kafka: ends the claims kafka-dedup-claim.lua made for a batch of events. "done" (the
-- event ran): each key still holding this owner's claim becomes a plain record ("1", "<ms>") for
-- its window. "release" (the run failed, the event goes to a retry or the error topic): each key
-- still holding this owner's claim gets its previous value back (or is deleted), so the retry is
-- not taken for a duplicate. A key claimed by someone else since is left alone.
--
-- KEYS (3 per event, as for kafka-dedup-claim.lua)
--   id key, sha1 key, root key
-- ARGV
--   1 id window s   2 sha1 window s   3 root window s
--   then 5 per event (event i starts at 4 + 5(i-1)):
--   owner, "done" | "release", flags (3 chars "0"/"1": has an id, a sha1, a root event),
--   previous sha1 value or "", previous root value or ""
-- Returns the number of keys changed.

local idWindow, sha1Window, rootWindow = ARGV[1], ARGV[2], ARGV[3]
local changed = 0

local function restore(key, previous, ttl)
  if previous == '' then
    redis.call('DEL', key)
  else
    redis.call('SET', key, previous, 'EX', ttl)
  end
  changed = changed + 1
end

local function finishTimed(key, flag, owner, done, previous, ttl)
  if flag ~= '1' then return end
  local value = redis.call('GET', key)
  if not value then return end
  local ms, claimer = string.match(value, '^([0-9]+):(.+)$')
  if claimer ~= owner then return end
  if done then
    redis.call('SET', key, ms, 'EX', ttl)
    changed = changed + 1
  else
    restore(key, previous, ttl)
  end
end

for i = 1, #KEYS / 3 do
  local a = 4 + 5 * (i - 1)
  local owner, done, flags = ARGV[a], ARGV[a + 1] == 'done', ARGV[a + 2]
  local idKey = KEYS[3 * i - 2]
  if flags:sub(1, 1) == '1' and redis.call('GET', idKey) == 'c:' .. owner then
    if done then
      redis.call('SET', idKey, '1', 'EX', idWindow)
      changed = changed + 1
    else
      restore(idKey, '', idWindow)
    end
  end
  finishTimed(KEYS[3 * i - 1], flags:sub(2, 2), owner, done, ARGV[a + 3], sha1Window)
  finishTimed(KEYS[3 * i], flags:sub(3, 3), owner, done, ARGV[a + 4], rootWindow)
end
return changed
