#!lua
-- expire.lua: settle a partition's windows from X to a target second (see due.lua, expire.go).
--
-- For each step in time order: "enter" adds the future part of a bucket (c:f) to every window
-- when its second comes; "leave w" subtracts a bucket from window w when the bucket's second
-- falls out of it, and the last window's leave deletes the bucket and its schedule member. A
-- step is one (type, second) bucket. The call is a compare-and-set on X: a concurrent settle
-- since due.lua ran makes it return {0} without effect, and the caller plans again (while X is
-- behind the clock counter.lua refuses to run, so no bucket appears meanwhile).
-- Publishes the new counts of every subject it moved.
--
-- KEYS: cursor, version, due, then the top keys (nw per type), then the step keys.
-- ARGV: X, target, channel, partition, nw, W..., nt, (type, top base)..., ns,
--       (kind 0=enter or window index, second, last leave 1/0, type index, step key)...
-- Returns {1, version, corrupt key names...} or {0}.
local cur, ver, due = KEYS[1], KEYS[2], KEYS[3]
local x, target = tonumber(ARGV[1]), tonumber(ARGV[2])
local channel, partition = ARGV[3], tonumber(ARGV[4])
local nw = tonumber(ARGV[5])
local a = 6 + nw
local nt = tonumber(ARGV[a]); a = a + 1
local T = {}
for i = 1, nt do
  T[i] = {name = ARGV[a], top = tonumber(ARGV[a + 1])}
  a = a + 2
end

local clock = redis.call('TIME')
local now = tonumber(clock[1])
local ms = now * 1000 + math.floor(tonumber(clock[2]) / 1000)
if tonumber(redis.call('GET', cur)) ~= x or now < target then
  return {0}
end

-- Keys of the wrong type are skipped and reported rather than failing the script halfway
-- (Redis does not roll back), so that decay goes on for every other subject.
local corrupt = {}
local typeOK = {}
local function is(i, want)
  local ok = typeOK[i]
  if ok == nil then
    local t = redis.call('TYPE', KEYS[i])['ok']
    ok = (t == 'none' or t == want)
    typeOK[i] = ok
    if not ok then corrupt[#corrupt + 1] = KEYS[i] end
  end
  return ok
end

local moved, order = {}, {}
local function touch(t, subj)
  local id = t .. '\0' .. subj
  if not moved[id] then
    moved[id] = true
    order[#order + 1] = {t = t, subj = subj}
  end
end

local ns = tonumber(ARGV[a]); a = a + 1
for _ = 1, ns do
  local kind, sec, last = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2] == '1'
  local t, key = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  a = a + 5
  if is(key, 'hash') then
    local kv = redis.call('HGETALL', KEYS[key])
    for j = 1, #kv, 2 do
      local subj, k = kv[j], tonumber(kv[j + 1])
      if not k then
        corrupt[#corrupt + 1] = KEYS[key] .. ' ' .. subj
      elseif kind == 0 then
        for i = 0, nw - 1 do
          if is(T[t].top + i, 'zset') then
            redis.call('ZINCRBY', KEYS[T[t].top + i], k, subj)
          end
        end
      elseif is(T[t].top + kind - 1, 'zset') then
        local top = KEYS[T[t].top + kind - 1]
        if tonumber(redis.call('ZINCRBY', top, -k, subj)) <= 0 then
          redis.call('ZREM', top, subj)
        end
      end
      touch(t, subj)
    end
    if kind == 0 or last then
      redis.call('DEL', KEYS[key])
    end
  end
  if last then
    redis.call('ZREM', due, sec .. ':' .. T[t].name)
  end
end
redis.call('SET', cur, target)

local v = tonumber(redis.call('GET', ver) or 0)
if #order > 0 then
  local changes = {}
  for _, c in ipairs(order) do
    local counts = {}
    for i = 0, nw - 1 do
      local top = T[c.t].top + i
      counts[i + 1] = is(top, 'zset') and tonumber(redis.call('ZSCORE', KEYS[top], c.subj) or 0) or 0
    end
    changes[#changes + 1] = {t = T[c.t].name, s = c.subj, n = counts}
  end
  v = redis.call('INCR', ver)
  if target < now then ms = target * 1000 + 999 end -- a catch-up step: exact at target
  redis.call('SPUBLISH', channel, cjson.encode({p = partition, v = v, at = ms, c = changes}))
end
local out = {1, v}
for _, k in ipairs(corrupt) do out[#out + 1] = k end
return out
