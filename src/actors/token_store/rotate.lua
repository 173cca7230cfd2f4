-- Exchanges a refresh token for its successor, atomically: of many concurrent calls with one
-- token, exactly one sees it as current and rotates it.
-- KEYS: family key, live set.
-- ARGV: family id, presented hash, successor hash, sealed successor, ttl ms, grace ms, prefix,
--       proof ('1' when the presented token's tag verified, else '0').
-- Returns {'rotated', uid} | {'grace', uid, sealed successor, successor hash} | {'reused', uid} | {'invalid'}.
local f = redis.call('HMGET', KEYS[1], 'uid', 'cur', 'prev', 'at', 'sealed')
local uid = f[1]
if not uid then return {'invalid'} end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local userkey = ARGV[7] .. 'user:' .. uid
if f[2] == ARGV[2] then
  redis.call('HSET', KEYS[1], 'cur', ARGV[3], 'prev', ARGV[2], 'at', now, 'sealed', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  redis.call('SET', userkey, ARGV[1], 'PX', ARGV[5])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), uid)
  return {'rotated', uid}
end
-- The immediate predecessor, shortly after its rotation: another tab of the same app lost the
-- race. It gets the current token (sealed under the predecessor), not a new generation.
if f[3] == ARGV[2] and tonumber(ARGV[6]) > 0 and now - tonumber(f[4]) <= tonumber(ARGV[6]) then
  return {'grace', uid, f[5], f[2]}
end
-- Security: the family id is not secret. Only a token that proves it was issued for this family
-- (a valid tag, or the exact predecessor after its grace) is a replay; anything else is a guess
-- that touches nothing.
if ARGV[8] ~= '1' and f[3] ~= ARGV[2] then return {'invalid'} end
-- Any other token of this family is an older generation: a replay. Revoke the whole family.
redis.call('DEL', KEYS[1])
if redis.call('GET', userkey) == ARGV[1] then
  redis.call('DEL', userkey)
  redis.call('ZREM', KEYS[2], uid)
end
return {'reused', uid}
