-- Exchanges a refresh token for its successor, atomically: of many concurrent calls with one
-- token, exactly one sees it as current and rotates it.
-- KEYS: the user's sessions, the bucket's live histogram.
-- ARGV: session field, presented digest, successor digest, sealed successor, ttl ms, grace ms,
--       proof ('1' when the presented token's tag verified, else '0'), granule ms.
-- Returns {'rotated', uid} | {'grace', uid, sealed successor, successor digest} | {'reused', uid}
-- | {'invalid'} | {'gone'} (no such session: ended or expired); uid: the user id's first 8 bytes.
local list = load(KEYS[1])
local i = find(list, ARGV[1])
if not i then return {'gone'} end
local raw = list[i][2]
local now = now_ms()
local before = redis.call('PEXPIRETIME', KEYS[1])
local g = tonumber(ARGV[8])
if expires(raw) <= now then
  save(KEYS[1], KEYS[2], list, now, g, before)
  return {'gone'}
end
if cur(raw) == ARGV[2] then
  list[i][2] = uid(raw) .. ARGV[3] .. ARGV[2] .. ARGV[4] .. b48(now) .. string.sub(raw, 63, 68)
    .. b48(now) .. b48(now + tonumber(ARGV[5])) .. string.sub(raw, 81)
  save(KEYS[1], KEYS[2], list, now, g, before)
  return {'rotated', uid(raw)}
end
-- The immediate predecessor, shortly after its rotation: another tab of the same app lost the
-- race. It gets the current token (sealed under the predecessor), not a new generation.
if prev(raw) == ARGV[2] and tonumber(ARGV[6]) > 0 and now - rotated_at(raw) <= tonumber(ARGV[6]) then
  return {'grace', uid(raw), sealed(raw), cur(raw)}
end
-- Security: the family id is not secret. Only a token that proves it was issued for this family
-- (a valid tag, or the exact predecessor after its grace) is a replay; anything else is a guess
-- that touches nothing.
if ARGV[7] ~= '1' and prev(raw) ~= ARGV[2] then return {'invalid'} end
-- Any other token of this family is an older generation: a replay. The session ends.
table.remove(list, i)
save(KEYS[1], KEYS[2], list, now, g, before)
return {'reused', uid(raw)}
