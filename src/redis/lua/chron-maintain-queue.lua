-- jobchron: one atomic upkeep step for one MediaWiki JobQueueRedis queue (mediawiki-redis-queue.md §7),
-- with the original chron's script bugs fixed:
--   W12  a queue holding only abandoned jobs moves to our own set KEYS[10] instead of vanishing, so
--        it keeps being visited and its abandoned jobs do get pruned. It is NOT kept in
--        s-queuesWithJobs: MediaWiki's getServerQueuesWithJobs() and every runner read that set as
--        "may have runnable jobs", and listing dead queues there would make runners spawn runJobs
--        for nothing (W16/B3).
--   W21  z-abandoned is scored with the abandonment time, so the prune age counts from then
--        (MediaWiki reads only the members of z-abandoned, never the scores).
--   W22  a missing (or non-numeric) h-attempts field counts as 0 attempts instead of raising.
--   W24  a recycled job gets its dedup entries back when none exist for its sha1, restoring
--        MediaWiki's invariant "sha1 maps exist while a job is unclaimed"; the sha1 is read from
--        the tail of a plain serialized blob (gzip envelopes cannot be read here and are skipped).
-- Recycled jobs still go to the head of l-unclaimed (RPUSH, popped next) like MediaWiki's own
-- pre-daemon code and the original chron: that is the behaviour operators know, and `attempts`
-- bounds how often a poison job can jump the queue (W23 kept on purpose).
-- Every ID is moved with its own commands (never `unpack` of a list: Lua's unpack fails at about
-- 8,000 values, and Redis does not undo a script that fails halfway, so a failure after the RPUSHes
-- duplicated every recycled job). An error at any point leaves each job in exactly one place.
-- A queue with no claimed, delayed or abandoned job costs one EXISTS for all three; a category
-- with nothing due costs one ZRANGE (its first entry), which also gives the time the
-- queue next needs upkeep: the caller keeps that in its due-time index instead of revisiting.
-- The caller's partition lease is checked first: a jobchron whose lease expired while it was paused
-- gets an error reply and writes nothing.
--
-- Several queues per call (the caller sends a few dozen): one EVALSHA and one lease check for the
-- lot instead of one per queue, while each call stays short (Redis runs nothing else meanwhile).
--
-- Each queue is passed as its key prefix P ("<wiki>:jobqueue:<type>", as MediaWiki builds it) and
-- its 8 key names are derived here, instead of 8 KEYS per queue: the walk sends ~5× fewer bytes,
-- which is most of jobchron's steady CPU at 100,000 queues (README "Scale"). Undeclared keys would
-- break Redis Cluster's slot routing, but a queue partition is one Redis instance (MediaWiki's
-- JobQueueRedis addresses it as one, and this script already touches every queue of a partition
-- together with the global sets), so nothing routes by these keys.
--
-- KEYS
--   1  global:jobqueue:s-queuesWithJobs
--   2  jobrunner:chron:s-queuesWithAbandoned
--   3  jobrunner:chron:lease (this partition's lease)
-- ARGV
--   1 the lease value the caller holds
--   2 now, UNIX s
--   3 prune cutoff, UNIX s: jobs abandoned at or before it are deleted (now - pruneAfterSeconds)
--   4 per-category limit (jobs per category per queue)
--   then 5 per queue, for queue i at 4 + 5(i-1) + …:
--   +1 key prefix P; the queue's keys are P:z-claimed, P:h-attempts, P:l-unclaimed, P:h-data,
--      P:z-abandoned, P:z-delayed, P:h-idBySha1, P:h-sha1ById
--   +2 claim cutoff, UNIX s: claims scored at or before it are stale (now - claimTTL(type))
--   +3 max attempts of the type
--   +4 queue ID: the set member exactly as stored (never re-encoded), or '' when unknown
--   +5 how the caller found the queue: 'full' (step 4 as always), 'listed' (read from
--      s-queuesWithJobs just now: a runnable queue needs no SADD/SREM), 'guess' (the ID was rebuilt
--      from a key name: step 4 runs only if one of the two sets holds exactly that ID)
-- Returns 7 numbers per queue, in order: released, abandoned, pruned, undelayed, ready, more,
-- nextDue; for a queue whose step failed (a damaged key) {'ERR', message, 0, 0, 0, 0, 0}. `ready` is the length of l-unclaimed after the step, `more` is 1 when a category hit the
-- limit, `nextDue` the UNIX s at which something in the queue falls due next (-1: nothing will).
-- Or the error reply "LEASE_LOST ..." (nothing written).

if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return redis.error_reply('LEASE_LOST the partition lease is no longer held by this jobchron')
end

local now = tonumber(ARGV[2])
local pruneCutoff = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])

-- The upkeep step of one queue: K = its 8 keys (in the order listed above), per-queue arguments as above.
local function step(K, claimCutoff, maxAttempts, queueId, found)
  local function setsHoldId()
    return redis.call('SISMEMBER', KEYS[1], queueId) == 1 or redis.call('SISMEMBER', KEYS[2], queueId) == 1
  end

  if redis.call('EXISTS', K[4]) == 0 then
    -- No job data at all: the queue is empty.
    if found ~= 'guess' or setsHoldId() then
      redis.call('SREM', KEYS[1], queueId)
      redis.call('SREM', KEYS[2], queueId)
    end
    return {0, 0, 0, 0, 0, 0, -1}
  end

  local more = 0
  local nextDue = nil
  local function noteDue(t)
    if nextDue == nil or t < nextDue then nextDue = t end
  end

  -- Score of the first member, or nil for an empty set.
  local function firstScore(key)
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if first[2] then return tonumber(first[2]) end
    return nil
  end

  -- Up to `limit` members scored at or below `maxScore` (none when the first one is later, learnt
  -- with a single ZRANGE); flags `more` when there are further ones. `delay` turns the first
  -- remaining score into the time it falls due.
  local function due(key, maxScore, delay)
    local first = firstScore(key)
    if first == nil then return {} end
    if first > maxScore then
      noteDue(first + delay)
      return {}
    end
    local ids = redis.call('ZRANGEBYSCORE', key, '-inf', maxScore, 'LIMIT', 0, limit + 1)
    if #ids > limit then
      more = 1
      ids[#ids] = nil
    end
    return ids
  end

  -- After a category was worked on: when does what is left in it fall due?
  local function dueAfter(key, delay)
    local first = firstScore(key)
    if first ~= nil then noteDue(first + delay) end
  end

  -- Restores h-idBySha1/h-sha1ById for a recycled job unless a newer duplicate already owns the sha1.
  local function restoreDedup(id)
    local blob = redis.call('HGET', K[4], id)
    if not blob then return end
    local uuid, sha1 = string.match(string.sub(blob, -256),
      's:4:"uuid";s:32:"(%x+)";s:4:"sha1";s:31:"(%w+)";s:9:"timestamp";i:%-?%d+;}$')
    if uuid ~= id or not sha1 then return end
    if redis.call('HSETNX', K[7], sha1, id) == 1 then
      redis.call('HSET', K[8], id, sha1)
    end
  end

  -- A queue holding only ready jobs (the usual case) has none of the three sorted sets: one EXISTS
  -- over all three instead of a ZRANGE each.
  local anySorted = redis.call('EXISTS', K[1], K[5], K[6]) > 0
  local function dueIn(key, maxScore, delay)
    if not anySorted then return {} end
    return due(key, maxScore, delay)
  end

  -- 1. Stale claims: back to the head while attempts remain, else abandoned.
  local released, abandoned = 0, 0
  local claimDelay = now - claimCutoff
  local stale = dueIn(K[1], claimCutoff, claimDelay)
  for _, id in ipairs(stale) do
    local attempts = tonumber(redis.call('HGET', K[2], id)) or 0
    if attempts < maxAttempts then
      redis.call('RPUSH', K[3], id)
      restoreDedup(id)
      released = released + 1
    else
      redis.call('ZADD', K[5], now, id)
      abandoned = abandoned + 1
    end
    -- Added to its new place first: a failure in between leaves at worst a stale claim to redo.
    redis.call('ZREM', K[1], id)
  end
  if #stale > 0 then dueAfter(K[1], claimDelay) end

  -- 2. Prune jobs abandoned long enough ago. They normally have no dedup entries; drop any left.
  local pruneDelay = now - pruneCutoff
  local old = dueIn(K[5], pruneCutoff, pruneDelay)
  for _, id in ipairs(old) do
    local sha1 = redis.call('HGET', K[8], id)
    if sha1 then
      redis.call('HDEL', K[8], id)
      if redis.call('HGET', K[7], sha1) == id then redis.call('HDEL', K[7], sha1) end
    end
    redis.call('ZREM', K[5], id)
    redis.call('HDEL', K[2], id)
    redis.call('HDEL', K[4], id)
  end
  -- Jobs abandoned by step 1 fall due for pruning too (the first entry covers them).
  if #old > 0 or abandoned > 0 then dueAfter(K[5], pruneDelay) end

  -- 3. Undelay due jobs onto the tail, earliest release first (LPUSH; popped after what is queued).
  local dueIds = dueIn(K[6], now, 0)
  for _, id in ipairs(dueIds) do
    redis.call('LPUSH', K[3], id)
    redis.call('ZREM', K[6], id)
  end
  if #dueIds > 0 then dueAfter(K[6], 0) end

  -- 4. Which set lists the queue: runnable jobs (ready, claimed or delayed) keep it in
  -- s-queuesWithJobs; only abandoned ones move it to our own set; nothing at all drops it.
  local unclaimed = redis.call('LLEN', K[3])
  local runnable = unclaimed > 0
    or (anySorted and (redis.call('ZCARD', K[1]) > 0 or redis.call('ZCARD', K[6]) > 0))
  if found == 'listed' and runnable then
    -- Just read from s-queuesWithJobs; a copy in our own set is dropped when that set is walked.
  elseif found == 'guess' and not setsHoldId() then
    -- The rebuilt ID is not what MediaWiki stored: leave set membership to the walk of the sets.
  elseif runnable then
    redis.call('SADD', KEYS[1], queueId)
    redis.call('SREM', KEYS[2], queueId)
  elseif anySorted and redis.call('ZCARD', K[5]) > 0 then
    redis.call('SREM', KEYS[1], queueId)
    redis.call('SADD', KEYS[2], queueId)
  else
    redis.call('SREM', KEYS[1], queueId)
    redis.call('SREM', KEYS[2], queueId)
  end

  if more == 1 then nextDue = now end
  return {released, abandoned, #old, #dueIds, unclaimed, more, nextDue and math.ceil(nextDue) or -1}
end

local reply = {}
local props = {'z-claimed', 'h-attempts', 'l-unclaimed', 'h-data', 'z-abandoned', 'z-delayed', 'h-idBySha1', 'h-sha1ById'}
local queues = (#ARGV - 4) / 5
for i = 1, queues do
  local arg = 4 + 5 * (i - 1)
  local prefix = ARGV[arg + 1]
  local K = {}
  for j = 1, 8 do K[j] = prefix .. ':' .. props[j] end
  -- A damaged queue (e.g. WRONGTYPE) fails alone: its slot says why, the others are maintained.
  local ok, r = pcall(step, K, tonumber(ARGV[arg + 2]), tonumber(ARGV[arg + 3]), ARGV[arg + 4], ARGV[arg + 5])
  if not ok then
    local message = type(r) == 'table' and (r.err or 'error') or tostring(r)
    r = {'ERR', message, 0, 0, 0, 0, 0}
  end
  for j = 1, 7 do reply[#reply + 1] = r[j] end
end
return reply
