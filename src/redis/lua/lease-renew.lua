-- jobchron partition lease: extend the lease only if the caller still holds it (compare-and-set).
--
-- KEYS
--   1 jobrunner:chron:lease
-- ARGV
--   1 the lease value the caller holds
--   2 lease time to live, ms
-- Returns 1 when renewed, 0 when the lease is gone or held by another instance.

if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
