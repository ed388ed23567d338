#!lua
-- due.lua: what must the windows of a partition go through to be exact now?
-- KEYS: cursor, due, and the schedule of the earlier layout: sched (seconds), types (every
-- type seen). ARGV: window lengths in seconds, shortest first.
--
-- Returns {X, now} when the windows are already exact at now (settling nothing, or nothing
-- but moving X: done here at once), else {X, now, "<second>:<type>" members of the buckets
-- in (X−wmax, now]}: the caller passes their keys to expire.lua (every key a script touches
-- must be in KEYS, so the buckets to read must be known before the call). The schedule names
-- (second, type) pairs, so settling touches only the types that hold counts in that range,
-- however many types the partition has seen.
-- A partition still scheduled the earlier way is moved first, in the same atomic step as any
-- settle, or its buckets would never leave their windows: each old second becomes one member
-- per type (a member without a bucket is read once, empty, and dropped).
if redis.call('EXISTS', KEYS[3]) == 1 then
  local types = redis.call('SMEMBERS', KEYS[4])
  for _, sec in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    for _, typ in ipairs(types) do
      redis.call('ZADD', KEYS[2], sec, sec .. ':' .. typ)
    end
  end
  redis.call('DEL', KEYS[3], KEYS[4])
end
local clock = redis.call('TIME')
local now = tonumber(clock[1])
local x = tonumber(redis.call('GET', KEYS[1]))
if not x or x >= now then
  return {x or now, now} -- nothing applied yet, or settled
end
local W = {}
for i = 1, #ARGV do W[i] = tonumber(ARGV[i]) end
local members = redis.call('ZRANGE', KEYS[2], '(' .. (x - W[#W]), now, 'BYSCORE', 'WITHSCORES')
for i = 2, #members, 2 do
  local s = tonumber(members[i])
  local due = s > x -- enters the windows
  for j = 1, #W do
    local t = s + W[j] -- leaves window j
    due = due or (t > x and t <= now)
  end
  if due then
    local out = {x, now}
    for k = 1, #members, 2 do out[#out + 1] = members[k] end
    return out
  end
end
redis.call('SET', KEYS[1], now)
return {now, now}
