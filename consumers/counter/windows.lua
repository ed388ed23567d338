#!lua flags=no-writes
-- windows.lua: a partition's window counts of some subjects of one type, exact now.
-- KEYS: cursor, version, the type's top keys (window order). ARGV: subjects.
-- Returns {0} when the windows are not settled up to now (the caller settles, then asks
-- again), else {1, at ms, version, counts subject by subject in window order...}.
local clock = redis.call('TIME')
local now = tonumber(clock[1])
local ms = now * 1000 + math.floor(tonumber(clock[2]) / 1000)
local x = tonumber(redis.call('GET', KEYS[1]))
if x and x < now then
  return {0}
end
if x and x > now then ms = x * 1000 end
local out = {1, ms, tonumber(redis.call('GET', KEYS[2]) or 0)}
for _, subj in ipairs(ARGV) do
  for i = 3, #KEYS do
    out[#out + 1] = tonumber(redis.call('ZSCORE', KEYS[i], subj) or 0)
  end
end
return out
