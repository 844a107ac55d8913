-- Ready-queue discovery for the runner's hot path: one call per partition per poll instead of
-- SMEMBERS plus one LLEN per queue. Reads s-queuesWithJobs and reports the members whose
-- l-unclaimed list is non-empty, with its length. Optionally also the earliest z-delayed score of
-- each queue, so callers know when delayed work becomes due (the chron undelays it).
--
-- The per-queue key names are derived here from each member exactly as MediaWiki 1.39 builds them
-- (mediawiki-redis-queue.md §3.1; mirrors src/mediawiki/queue-keys.ts): JSON [type, domain] →
-- wiki ID from the DB domain ('?h' = '-', '??' = '?'; db[-schema]-prefix, schema 'mediawiki'
-- dropped) → rawurlencode of each part. Those keys are not declared in KEYS: fine on a standalone
-- Redis (MediaWiki's layout is not Redis Cluster compatible anyway).
-- Read-only.
--
-- KEYS
--   1 global:jobqueue:s-queuesWithJobs
-- ARGV
--   1 '1' to also report the earliest delayed release time per queue, anything else to skip it
-- Returns {memberCount, ready, delayed, bad}:
--   ready   = flat {member, llen, ...} for members with llen > 0
--   delayed = flat {member, earliest score (string), ...} for members with a non-empty z-delayed
--   bad     = members that are not a JSON pair of non-empty strings

local members = redis.call('SMEMBERS', KEYS[1])
local withDelayed = ARGV[1] == '1'

local function rawurlencode(s)
  if not string.find(s, '[^A-Za-z0-9%-_%.~]') then return s end
  return (string.gsub(s, '[^A-Za-z0-9%-_%.~]', function(c)
    return string.format('%%%02X', string.byte(c))
  end))
end

local function wikiIdFromDomain(domain)
  if not string.find(domain, '[%-%?]') then return domain end
  local parts, cur = {}, {}
  local i, n = 1, #domain
  while i <= n do
    local c = string.sub(domain, i, i)
    local nx = string.sub(domain, i + 1, i + 1)
    if c == '?' and i < n and nx == 'h' then
      cur[#cur + 1] = '-'
      i = i + 2
    elseif c == '?' and i < n and nx == '?' then
      cur[#cur + 1] = '?'
      i = i + 2
    elseif c == '-' then
      parts[#parts + 1] = table.concat(cur)
      cur = {}
      i = i + 1
    else
      cur[#cur + 1] = c
      i = i + 1
    end
  end
  parts[#parts + 1] = table.concat(cur)
  local db, schema, prefix = parts[1], nil, ''
  if #parts >= 3 then
    schema = parts[2]
    prefix = table.concat(parts, '-', 3)
  elseif #parts == 2 then
    prefix = parts[2]
  end
  if schema ~= nil and schema ~= 'mediawiki' then return db .. '-' .. schema .. '-' .. prefix end
  if prefix ~= '' then return db .. '-' .. prefix end
  return db
end

local function parseMember(member)
  -- Fast path: no escapes or control characters (what PHP's json_encode gives for ASCII names).
  local t, d = string.match(member, '^%["([^"\\%c]+)","([^"\\%c]+)"%]$')
  if t then return t, d end
  local ok, decoded = pcall(cjson.decode, member)
  if not ok or type(decoded) ~= 'table' or #decoded ~= 2 then return nil end
  t, d = decoded[1], decoded[2]
  if type(t) ~= 'string' or type(d) ~= 'string' or t == '' or d == '' then return nil end
  return t, d
end

local prefixByDomain, encodedType = {}, {}
local ready, delayed, bad = {}, {}, {}
for _, member in ipairs(members) do
  local qtype, domain = parseMember(member)
  if qtype then
    local wiki = prefixByDomain[domain]
    if not wiki then
      wiki = rawurlencode(wikiIdFromDomain(domain)) .. ':jobqueue:'
      prefixByDomain[domain] = wiki
    end
    local etype = encodedType[qtype]
    if not etype then
      etype = rawurlencode(qtype)
      encodedType[qtype] = etype
    end
    local prefix = wiki .. etype
    local n = redis.call('LLEN', prefix .. ':l-unclaimed')
    if n > 0 then
      ready[#ready + 1] = member
      ready[#ready + 1] = n
    end
    if withDelayed then
      local first = redis.call('ZRANGE', prefix .. ':z-delayed', 0, 0, 'WITHSCORES')
      if first[2] then
        delayed[#delayed + 1] = member
        delayed[#delayed + 1] = first[2]
      end
    end
  else
    bad[#bad + 1] = member
  end
end
return {#members, ready, delayed, bad}
