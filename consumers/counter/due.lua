#!lua
-- due.lua: what must the windows of a partition go through to be exact now?
-- KEYS: cursor, sched, types. ARGV: window lengths in seconds, shortest first.
--
-- Returns {X, now} when the windows are already exact at now (settling nothing, or nothing
-- but moving X: done here at once), else {X, now, seconds holding buckets in (X−wmax, now],
-- types}: the caller passes their keys to expire.lua (every key a script touches must be in
-- KEYS, so the buckets to read must be known before the call).
local clock = redis.call('TIME')
local now = tonumber(clock[1])
local x = tonumber(redis.call('GET', KEYS[1]))
if not x or x >= now then
  return {x or now, now} -- nothing applied yet, or settled
end
local W = {}
for i = 1, #ARGV do W[i] = tonumber(ARGV[i]) end
local secs = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. (x - W[#W]), now)
for _, s in ipairs(secs) do
  s = tonumber(s)
  local due = s > x -- enters the windows
  for i = 1, #W do
    local t = s + W[i] -- leaves window i
    due = due or (t > x and t <= now)
  end
  if due then
    return {x, now, secs, redis.call('SMEMBERS', KEYS[3])}
  end
end
redis.call('SET', KEYS[1], now)
return {now, now}
