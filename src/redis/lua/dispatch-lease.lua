-- jobrunner: a short lease on a quiet queue before an express dispatch (issue 14). Runners share the
-- partitions and each decides alone, so every host with a free express slot would start the same
-- quiet queue; its atomic pop already keeps a job from running twice, the lease only saves the
-- runJobs start-ups that would find the queue empty. The holder may take its own lease again (its
-- next dispatch of the same queue); others wait until it expires.
--
-- KEYS
--   1 global:jobrunner:dispatch-lease:<JSON [wiki, type]>   (STRING, the holder)
-- ARGV
--   1 holder: the runner instance (host:pid)
--   2 time to live, ms
-- Returns 1 when the caller holds the lease now, 0 when another runner does.

local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
