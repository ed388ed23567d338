#!lua
-- types.lua: admit event types into the deployment's type registry, at most a cap of them, so
-- that one producer inventing types cannot grow the cost of everyone (leaderboards, history
-- and settling are per type). Types idle longer than the TTL are forgotten first: a type that
-- is still sent stays registered.
--
-- KEYS[1]   the registry: sorted set type → second last admitted (Redis TIME)
-- ARGV[1]   cap (distinct types)
-- ARGV[2]   idle TTL in seconds
-- ARGV[3..] types to admit
-- Returns 1 (admitted) or 0 (the registry is full) per type.
local now = tonumber(redis.call('TIME')[1])
local cap = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])))
local n = redis.call('ZCARD', KEYS[1])
local out = {}
for i = 3, #ARGV do
  local known = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if known or n < cap then
    redis.call('ZADD', KEYS[1], now, ARGV[i])
    if not known then n = n + 1 end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
