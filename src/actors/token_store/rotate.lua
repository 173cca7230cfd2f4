-- Exchanges a refresh token for its successor, atomically: of many concurrent calls with one
-- token, exactly one sees it as current and rotates it.
-- KEYS: the user's sessions hash ({u:<tag>}), live set.
-- ARGV: family id, presented hash, successor hash, sealed successor, ttl ms, grace ms,
--       proof ('1' when the presented token's tag verified, else '0').
-- Returns {'rotated', uid} | {'grace', uid, sealed successor, successor hash} | {'reused', uid} | {'invalid'}
-- | {'gone'} (no such session: ended or expired).
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {'gone'} end
local s = cjson.decode(raw)
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if s.exp <= now then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return {'gone'}
end
local ttl = tonumber(ARGV[5])
if s.cur == ARGV[2] then
  s.prev, s.cur, s.at, s.sealed, s.seen, s.exp = ARGV[2], ARGV[3], now, ARGV[4], now, now + ttl
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(s))
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
  redis.call('ZADD', KEYS[2], now + ttl, s.uid)
  return {'rotated', s.uid}
end
-- The immediate predecessor, shortly after its rotation: another tab of the same app lost the
-- race. It gets the current token (sealed under the predecessor), not a new generation.
if s.prev == ARGV[2] and tonumber(ARGV[6]) > 0 and now - s.at <= tonumber(ARGV[6]) then
  return {'grace', s.uid, s.sealed, s.cur}
end
-- Security: the family id is not secret. Only a token that proves it was issued for this family
-- (a valid tag, or the exact predecessor after its grace) is a replay; anything else is a guess
-- that touches nothing.
if ARGV[7] ~= '1' and s.prev ~= ARGV[2] then return {'invalid'} end
-- Any other token of this family is an older generation: a replay. The session ends.
redis.call('HDEL', KEYS[1], ARGV[1])
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  if cjson.decode(v).uid == s.uid then return {'reused', s.uid} end
end
redis.call('ZREM', KEYS[2], s.uid)
return {'reused', s.uid}
