-- record.lua: records a deployment's settings in its meta hash unless they are there, and
-- returns what is recorded. Atomic, so that processes starting together agree.
--
-- KEYS[1]  the meta hash
-- ARGV     partitions, windows, tag scheme (for a new deployment, or the process's own)
--
-- Returns {partitions, windows, tags} as recorded.
local meta = KEYS[1]
-- Recorded before tag schemes existed: its keys carry numbered tags, and keep them.
if redis.call('HEXISTS', meta, 'partitions') == 1 and redis.call('HEXISTS', meta, 'tags') == 0 then
  redis.call('HSET', meta, 'tags', 'numbered')
end
redis.call('HSETNX', meta, 'partitions', ARGV[1])
redis.call('HSETNX', meta, 'windows', ARGV[2])
redis.call('HSETNX', meta, 'tags', ARGV[3])
return redis.call('HMGET', meta, 'partitions', 'windows', 'tags')
