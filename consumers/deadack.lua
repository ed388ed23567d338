#!lua
-- deadack.lua: acknowledge entries whose failure records were just appended, and leave a
-- marker per entry: it makes the step idempotent (a retry after a lost reply finds XACK = 0
-- but its own marker, and must not take the entry for one applied elsewhere, which would
-- delete its only record), and the counter's replay consumes it to count the entry once.
--
-- KEYS[1]     the stream
-- KEYS[2..]   one marker per entry (DeadMarker)
-- ARGV[1]     group
-- ARGV[2]     marker TTL in seconds; 0: until consumed
-- ARGV[3..]   entry ids
-- Returns per entry 1 (dead-lettered: by this call, a lost earlier one, or a racing consumer)
-- or 0 (no longer pending and no marker: it took effect elsewhere).
local ttl = tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV do
  local marker = KEYS[i - 1]
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    if ttl > 0 then
      redis.call('SET', marker, '1', 'EX', ttl)
    else
      redis.call('SET', marker, '1')
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = redis.call('EXISTS', marker)
  end
end
return out
