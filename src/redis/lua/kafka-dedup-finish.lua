-- backend kafka: ends the claims kafka-dedup-claim.lua made for one event. "done" (the event ran):
-- each key still holding this owner's claim becomes a plain record ("1", "<ms>") for its window.
-- "release" (the run failed, the event goes to a retry or the error topic): each key still holding
-- this owner's claim gets its previous value back (or is deleted), so the retry is not taken for a
-- duplicate. A key claimed by someone else since is left alone.
--
-- KEYS
--   1 id key   2 sha1 key   3 root key (as for kafka-dedup-claim.lua)
-- ARGV
--   1 owner   2 "done" | "release"
--   3 "1" when the event has an id, 4 ... a sha1, 5 ... a root event
--   6 previous sha1 value or ""   7 previous root value or ""
--   8 id window s   9 sha1 window s   10 root window s
-- Returns the number of keys changed.

local owner, done = ARGV[1], ARGV[2] == 'done'
local changed = 0

local function restore(key, previous, ttl)
  if previous == '' then
    redis.call('DEL', key)
  else
    redis.call('SET', key, previous, 'EX', ttl)
  end
  changed = changed + 1
end

if ARGV[3] == '1' and redis.call('GET', KEYS[1]) == 'c:' .. owner then
  if done then
    redis.call('SET', KEYS[1], '1', 'EX', ARGV[8])
    changed = changed + 1
  else
    restore(KEYS[1], '', ARGV[8])
  end
end

local function finishTimed(key, flag, previous, ttl)
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

finishTimed(KEYS[2], ARGV[4], ARGV[6], ARGV[9])
finishTimed(KEYS[3], ARGV[5], ARGV[7], ARGV[10])
return changed
