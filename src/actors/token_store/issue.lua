-- Starts a new session (refresh-token family) for a user. Beyond SESSIONS_PER_USER, the user's
-- least recently used sessions end (with the default of 1: a new login replaces the session).
-- KEYS: the user's sessions hash, the bucket's live histogram.
-- ARGV: user id (first 8 bytes), session field, token digest, ttl ms, sessions per user,
--       client IP (length byte, then the bytes), user agent, granule ms.
-- Returns the fields of the sessions it ended.
local now = now_ms()
local before = redis.call('PEXPIRETIME', KEYS[1])
local all = redis.call('HGETALL', KEYS[1])
local mine = {}
for i = 1, #all, 2 do
  local r = all[i + 1]
  if expires(r) > now and uid(r) == ARGV[1] then mine[#mine + 1] = {all[i], seen(r)} end
end
table.sort(mine, function(a, b) return a[2] < b[2] end)
local ended = {}
for i = 1, #mine + 1 - tonumber(ARGV[5]) do
  redis.call('HDEL', KEYS[1], mine[i][1])
  ended[#ended + 1] = mine[i][1]
end
local stamp = b48(now)
redis.call('HSET', KEYS[1], ARGV[2],
  ARGV[1] .. ARGV[3] .. NONE .. NONE .. stamp .. stamp .. stamp .. b48(now + tonumber(ARGV[4])) .. ARGV[6] .. ARGV[7])
settle(KEYS[1], KEYS[2], now, tonumber(ARGV[8]), before)
return ended
