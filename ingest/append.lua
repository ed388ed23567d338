-- append.lua: appends one partition's events to its stream, deduplicating client ids
-- atomically with the append, so a retried request can neither double-append nor lose an event.
--
-- KEYS[1]     the partition stream
-- KEYS[2..]   dedupe keys, in the order of the events that carry one
-- ARGV[1]     dedupe TTL in seconds
-- ARGV[2]     max stream length before the partition refuses appends (0: no limit)
-- ARGV[3..]   per event: "1" if it has a dedupe key else "0", n, then n field/value strings
--
-- Returns -1 when the backlog is full (nothing appended), else one reply per event:
-- 1 appended, 0 duplicate, or "!<error>" when the append failed. (Not the entry id: nobody
-- needs it, and it would cost a string per event in the reply.)
local stream = KEYS[1]
local max = tonumber(ARGV[2])
if max > 0 and redis.call('XLEN', stream) >= max then
  return -1
end
local ttl = ARGV[1]
local out = {}
local k = 1
local i = 3
local last = #ARGV
while i <= last do
  local first = i + 2
  local stop = i + 1 + tonumber(ARGV[i + 1])
  local key = nil
  if ARGV[i] == '1' then
    k = k + 1
    key = KEYS[k]
  end
  i = stop + 1
  local fresh = true
  if key then
    fresh = redis.pcall('SET', key, '1', 'NX', 'EX', ttl)
  end
  if type(fresh) == 'table' and fresh.err then
    out[#out + 1] = '!' .. fresh.err
  elseif not fresh then
    -- A write even for a duplicate: the id is remembered for the TTL since last seen, and a
    -- WAIT after this call covers the append it stands for (made on another connection,
    -- perhaps never confirmed), since a replica applies writes in order.
    redis.call('EXPIRE', key, ttl)
    out[#out + 1] = 0
  else
    local id = redis.pcall('XADD', stream, '*', unpack(ARGV, first, stop))
    if type(id) == 'table' and id.err then
      -- The event is not stored: forget its id, or a retry would be answered "duplicate".
      if key then
        redis.call('DEL', key)
      end
      out[#out + 1] = '!' .. id.err
    else
      out[#out + 1] = 1
    end
  end
end
return out
