-- jobchron partition lease: give the lease up only if the caller still holds it (compare-and-delete).
--
-- KEYS
--   1 jobrunner:chron:lease
-- ARGV
--   1 the lease value the caller holds
-- Returns 1 when released, 0 when it was not (or no longer) the caller's.

if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
