#!lua
-- deadletter.lua: append dead-letter records while the store holds fewer than its capacity.
-- A full store refuses rather than trims: every record in it may be the only trace of an
-- accepted event.
--
-- KEYS[1]  the dead-letter stream
-- ARGV[1]  capacity (records)
-- ARGV[2..] the records, 12 strings each (6 field/value pairs)
-- Returns one element per record: its id, or false when the store was full.
local stream = KEYS[1]
local room = tonumber(ARGV[1]) - redis.call('XLEN', stream)
local out = {}
for i = 2, #ARGV, 12 do
  if room > 0 then
    out[#out + 1] = redis.call('XADD', stream, '*', unpack(ARGV, i, i + 11))
    room = room - 1
  else
    out[#out + 1] = false
  end
end
return out
