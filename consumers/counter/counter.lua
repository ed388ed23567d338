#!lua
-- counter.lua: apply one batch of a partition's events, atomically (see apply.go for how the
-- arguments are laid out, keys.go for the keys).
--
-- Each entry takes effect only if this call acknowledges it (XACK returns 1): an entry already
-- acknowledged by another consumer, or by an earlier attempt of this one, has no effect. A
-- replayed entry (dead key given) counts only if it consumes its original's dead marker.
-- Effects are aggregated per (type, subject, second) group: one write per group, not per event.
--
-- Windows are exact at the settled second X (c:x): leaderboard w holds the buckets with second
-- in (X−w, X]. The script refuses to run when X < now (returns {0, X, now}); the caller settles
-- the windows up to now with expire.lua first, so that a bucket is added to window w exactly
-- when its leave from w has not been processed yet. Nothing is written before the checks.
--
-- Returns {1, applied, skipped, late, published 1/0, bad entry positions...}.
local stream, cur, ver, due = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, channel, partition = ARGV[1], ARGV[2], tonumber(ARGV[3])
local retention = tonumber(ARGV[4])
local nw = tonumber(ARGV[5])
local W = {}
for i = 1, nw do W[i] = tonumber(ARGV[5 + i]) end
local wmax = W[nw]
local a = 6 + nw

local nt = tonumber(ARGV[a]); a = a + 1
local T = {}
for i = 1, nt do
  T[i] = {name = ARGV[a], top = tonumber(ARGV[a + 1])}
  a = a + 2
end
local ng = tonumber(ARGV[a]); a = a + 1
local G = {}
for i = 1, ng do
  G[i] = {t = tonumber(ARGV[a]), subj = ARGV[a + 1], sec = tonumber(ARGV[a + 2]),
          s = tonumber(ARGV[a + 3]), f = tonumber(ARGV[a + 4]), ht = tonumber(ARGV[a + 5]),
          hs = tonumber(ARGV[a + 6]), k = 0}
  a = a + 7
end
local ne = tonumber(ARGV[a]); a = a + 1

-- Phase 1: checks, no writes.
local clock = redis.call('TIME')
local now = tonumber(clock[1])
local ms = now * 1000 + math.floor(tonumber(clock[2]) / 1000)
local x = tonumber(redis.call('GET', cur))
if x and x < now then
  return {0, x, now}
end
if x and x > now then -- Redis' clock stepped back: windows never move backwards
  now, ms = x, x * 1000
end

-- A key of the wrong type, or a value a write cannot increment (someone wrote over it), would
-- fail a write halfway through the script after its XACKs, and Redis does not roll back: the
-- entries would be acknowledged with no effect. So every key and every value written is
-- checked first, and the entries whose keys are broken stay pending (they fail and, after
-- MaxDeliveries, go to the failure stream).
local typeOK, fresh = {}, {}
local function is(i, want)
  local ok = typeOK[i]
  if ok == nil then
    local t = redis.call('TYPE', KEYS[i])['ok']
    ok = (t == 'none' or t == want)
    typeOK[i] = ok
    fresh[i] = (t == 'none')
  end
  return ok
end
local function integer(v)
  return v == false or v == nil or string.match(v, '^%-?%d+$') ~= nil and #v < 19
end
local fieldOK = {}
local function field(i, f)
  local id = i .. '\0' .. f
  local ok = fieldOK[id]
  if ok == nil then
    ok = fresh[i] or integer(redis.call('HGET', KEYS[i], f))
    fieldOK[id] = ok
  end
  return ok
end
if not (is(1, 'stream') and is(2, 'string') and is(3, 'string') and is(4, 'zset')) or not integer(redis.call('GET', ver)) then
  return redis.error_reply('WRONGTYPE counter state of partition ' .. partition .. ' has a key of the wrong type')
end
for _, g in ipairs(G) do
  local ok = is(g.s, 'hash') and is(g.f, 'hash') and is(g.ht, 'hash') and is(g.hs, 'hash')
  for i = 0, nw - 1 do ok = ok and is(T[g.t].top + i, 'zset') end
  if ok then
    local minute = tostring(math.floor(g.sec / 60) % 60)
    ok = field(g.s, g.subj) and field(g.f, g.subj) and field(g.ht, minute) and field(g.hs, minute)
  end
  g.bad = not ok
end

-- Phase 2: acknowledge and apply.
if not x then
  redis.call('SET', cur, now)
end
local applied, skipped, late = 0, 0, 0
local bad = {}
for i = 1, ne do
  local id, g, dead = ARGV[a], G[tonumber(ARGV[a + 1])], tonumber(ARGV[a + 2])
  a = a + 3
  if g.bad then
    bad[#bad + 1] = i
  elseif redis.call('XACK', stream, group, id) == 1 and (dead == 0 or redis.call('DEL', KEYS[dead]) == 1) then
    g.k = g.k + 1
    applied = applied + 1
  else
    skipped = skipped + 1
  end
end

local hist, histOrder = {}, {}
local function addHistory(key, minute, k, expireAt)
  local h = hist[key]
  if not h then
    h = {m = {}, order = {}, exp = expireAt}
    hist[key] = h
    histOrder[#histOrder + 1] = key
  end
  if not h.m[minute] then
    h.m[minute] = 0
    h.order[#h.order + 1] = minute
  end
  h.m[minute] = h.m[minute] + k
end

local win, winOrder = {}, {}
local marked = {}
for _, g in ipairs(G) do
  local k, sec = g.k, g.sec
  if k > 0 then
    if sec > now - retention then
      local hour = math.floor(sec / 3600)
      local minute = math.floor(sec / 60) % 60
      local expireAt = (hour + 1) * 3600 + retention
      addHistory(g.ht, minute, k, expireAt)
      addHistory(g.hs, minute, k, expireAt)
    end
    if sec <= now - wmax then
      late = late + k -- older than the longest window: history only
    else
      redis.call('HINCRBY', KEYS[g.s], g.subj, k)
      local member = sec .. ':' .. T[g.t].name
      if not marked[member] then
        marked[member] = true
        redis.call('ZADD', due, sec, member)
      end
      if sec > now then
        redis.call('HINCRBY', KEYS[g.f], g.subj, k) -- enters the windows when its second comes
      else
        local id = g.t .. '\0' .. g.subj
        local c = win[id]
        if not c then
          c = {t = g.t, subj = g.subj, add = {}}
          for i = 1, nw do c.add[i] = 0 end
          win[id] = c
          winOrder[#winOrder + 1] = c
        end
        for i = 1, nw do
          if sec > now - W[i] then c.add[i] = c.add[i] + k end
        end
      end
    end
  end
end

for _, key in ipairs(histOrder) do
  local h = hist[key]
  for _, minute in ipairs(h.order) do
    redis.call('HINCRBY', KEYS[key], minute, h.m[minute])
  end
  if fresh[key] then -- created by this call: give it its expiry
    redis.call('EXPIREAT', KEYS[key], h.exp)
  end
end

local changes = {}
for _, c in ipairs(winOrder) do
  local counts = {}
  for i = 1, nw do
    local top = KEYS[T[c.t].top + i - 1]
    if c.add[i] > 0 then
      counts[i] = tonumber(redis.call('ZINCRBY', top, c.add[i], c.subj))
    else
      counts[i] = tonumber(redis.call('ZSCORE', top, c.subj) or 0)
    end
  end
  changes[#changes + 1] = {t = T[c.t].name, s = c.subj, n = counts}
end

local published = 0
if #changes > 0 then
  local v = redis.call('INCR', ver)
  redis.call('SPUBLISH', channel, cjson.encode({p = partition, v = v, at = ms, c = changes}))
  published = 1
end

local out = {1, applied, skipped, late, published}
for _, i in ipairs(bad) do out[#out + 1] = i end
return out
