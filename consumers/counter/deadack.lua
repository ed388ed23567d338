#!lua
-- deadack.lua: acknowledge entries just appended to the failure stream and mark the ones this
-- call acknowledged as dead (uncounted), so that a replay of their failure record counts once.
-- KEYS: stream, then one dead key per entry. ARGV: group, marker TTL seconds, entry ids.
-- Returns 1 or 0 per entry: 0 = no longer pending (it took effect elsewhere).
local out = {}
for i = 3, #ARGV do
  local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  if n == 1 then
    redis.call('SET', KEYS[i - 1], '1', 'EX', ARGV[2])
  end
  out[#out + 1] = n
end
return out
