-- Logout: revokes the family of the presented token if it is its current token or the
-- immediate predecessor. Returns the user id, or false when there was nothing to revoke.
-- KEYS: family key, live set.  ARGV: family id, presented hash, prefix.
local f = redis.call('HMGET', KEYS[1], 'uid', 'cur', 'prev')
local uid = f[1]
if not uid then return false end
if f[2] ~= ARGV[2] and f[3] ~= ARGV[2] then return false end
redis.call('DEL', KEYS[1])
local userkey = ARGV[3] .. 'user:' .. uid
if redis.call('GET', userkey) == ARGV[1] then
  redis.call('DEL', userkey)
  redis.call('ZREM', KEYS[2], uid)
end
return uid
