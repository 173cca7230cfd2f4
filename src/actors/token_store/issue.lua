-- Starts a new refresh-token family for a user, replacing (revoking) the one they had:
-- one refresh token per user.
-- KEYS: user key, new family key, live set.  ARGV: user id, family id, token hash, ttl ms, prefix.
local old = redis.call('GET', KEYS[1])
if old then redis.call('DEL', ARGV[5] .. 'fam:' .. old) end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'uid', ARGV[1], 'cur', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
local t = redis.call('TIME')
redis.call('ZADD', KEYS[3], t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[4]), ARGV[1])
return 1
