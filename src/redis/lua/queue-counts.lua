-- Operator counts for a batch of queues in one round trip: per queue the four state sizes and the
-- enqueue time of the oldest unclaimed job (LINDEX -1 = the next to pop, then its h-data blob).
-- The timestamp is read from the tail of a plain PHP-serialized blob ('s:9:"timestamp";i:N;}');
-- when that does not match (gzip envelope, odd blob) the blob itself is returned for the caller
-- to decode. Read-only.
--
-- KEYS (5 per queue, repeated)
--   <P>:l-unclaimed, <P>:z-claimed, <P>:z-abandoned, <P>:z-delayed, <P>:h-data
-- ARGV
--   none
-- Returns a flat list, 6 per queue:
--   unclaimed, claimed, abandoned, delayed, oldest timestamp (integer, or -1 when unknown),
--   blob of the oldest unclaimed job when its timestamp could not be read here (else '')

local out = {}
for i = 1, #KEYS, 5 do
  local unclaimed = redis.call('LLEN', KEYS[i])
  out[#out + 1] = unclaimed
  out[#out + 1] = redis.call('ZCARD', KEYS[i + 1])
  out[#out + 1] = redis.call('ZCARD', KEYS[i + 2])
  out[#out + 1] = redis.call('ZCARD', KEYS[i + 3])
  local ts, blob = -1, ''
  if unclaimed > 0 then
    local id = redis.call('LINDEX', KEYS[i], -1)
    local data = id and redis.call('HGET', KEYS[i + 4], id)
    if data then
      local found = string.match(string.sub(data, -40), 's:9:"timestamp";i:(%-?%d+);}$')
      if found then ts = tonumber(found) else blob = data end
    end
  end
  out[#out + 1] = ts
  out[#out + 1] = blob
end
return out
