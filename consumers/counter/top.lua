#!lua flags=no-writes
-- top.lua: a partition's top subjects of one leaderboard, exact now.
-- KEYS: cursor, top key. ARGV: limit.
-- Returns {0} when the windows are not settled up to now, else {1, at ms, subject, count, ...}:
-- the first `limit` subjects ordered by count descending, then subject ascending. Redis orders
-- ties the other way round in a reverse range, so the entries tied at the cut are fetched
-- in ascending order separately: the merge across partitions is then exact.
local clock = redis.call('TIME')
local now = tonumber(clock[1])
local ms = now * 1000 + math.floor(tonumber(clock[2]) / 1000)
local x = tonumber(redis.call('GET', KEYS[1]))
if x and x < now then
  return {0}
end
if x and x > now then ms = x * 1000 end
local limit = tonumber(ARGV[1])
local out = {1, ms}
local first = redis.call('ZRANGE', KEYS[2], '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, limit, 'WITHSCORES')
if #first < 2 * limit then
  for _, v in ipairs(first) do out[#out + 1] = v end
  return out
end
local cut = first[#first]
local above = redis.call('ZRANGE', KEYS[2], '+inf', '(' .. cut, 'BYSCORE', 'REV', 'WITHSCORES')
for _, v in ipairs(above) do out[#out + 1] = v end
local ties = redis.call('ZRANGE', KEYS[2], cut, cut, 'BYSCORE', 'LIMIT', 0, limit - #above / 2, 'WITHSCORES')
for _, v in ipairs(ties) do out[#out + 1] = v end
return out
