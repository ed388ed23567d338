-- lease.lua: takes, renews or gives up the lease on one partition's archive.
--
-- KEYS[1]  the lease
-- ARGV[1]  the holder's token
-- ARGV[2]  "take": take a free lease or renew one's own; "renew": renew one's own only (a lease
--          that expired, even one nobody took since, is lost: another holder may have written
--          and acknowledged entries in between); "drop": give one's own up
-- ARGV[3]  lease duration in ms
-- Returns 1 when the caller holds the lease (or gave it up), else 0.
local v = redis.call('GET', KEYS[1])
local mode = ARGV[2]
if v == ARGV[1] then
  if mode == 'drop' then
    redis.call('DEL', KEYS[1])
  else
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
  end
  return 1
end
if v == false and mode == 'take' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0
