#!lua
-- forget.lua: remove the consumers of a group that hold no pending entry and have not been
-- seen for a while (a process that scaled away, a container renamed on restart). Checking
-- and removing in one call matters: XGROUP DELCONSUMER drops the consumer's pending entries,
-- which then nobody would ever deliver again, so a consumer that read something in between
-- must not be removed.
--
-- KEYS[1]  the stream
-- ARGV[1]  group
-- ARGV[2]  idle milliseconds a consumer must have (since its last read attempt)
-- ARGV[3]  the caller's own consumer name (never removed)
-- Returns the names removed.
local idle = tonumber(ARGV[2])
local removed = {}
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['name'] ~= ARGV[3] and tonumber(f['pending']) == 0 and tonumber(f['idle']) >= idle then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed[#removed + 1] = f['name']
  end
end
return removed
