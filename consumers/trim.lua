-- Trims one partition stream below what every consumer group has acknowledged, atomically:
-- no consumer can read, claim or ack between the look at the groups and the trim.
--
-- KEYS[1]  the partition stream
-- ARGV     the consumer groups that must all exist before anything is trimmed
--
-- A group's floor is its oldest pending entry, or its last-delivered id when nothing is
-- pending: every entry below it was delivered and is no longer pending, so it is acked.
-- Entries below the lowest floor are trimmed (XTRIM MINID, exact). The last-delivered entry
-- itself stays: one acked entry is the price of never computing an id successor.
--
-- Returns {trimmed, length after, missing group name or "", floor id or ""}.
local stream = KEYS[1]
if redis.call('EXISTS', stream) == 0 then
  return {0, 0, '', ''}
end

local byName = {}
for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local f = {}
  for i = 1, #g, 2 do
    f[g[i]] = g[i + 1]
  end
  byName[f['name']] = f
end

local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end

local floor, floorMs, floorSeq
for _, name in ipairs(ARGV) do
  local g = byName[name]
  if not g then
    return {0, redis.call('XLEN', stream), name, ''}
  end
  local id = g['last-delivered-id']
  if g['pending'] > 0 then
    local p = redis.call('XPENDING', stream, name)
    if p[1] > 0 then
      id = p[2]
    end
  end
  local ms, seq = parse(id)
  if floor == nil or ms < floorMs or (ms == floorMs and seq < floorSeq) then
    floor, floorMs, floorSeq = id, ms, seq
  end
end

local trimmed = redis.call('XTRIM', stream, 'MINID', '=', floor)
return {trimmed, redis.call('XLEN', stream), '', floor}
