-- Drops expired entries from the live set and counts what is left: the number of users holding
-- a live refresh token. KEYS: live set.
local t = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t[1] * 1000 + math.floor(t[2] / 1000))
return redis.call('ZCARD', KEYS[1])
