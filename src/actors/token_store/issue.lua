-- Starts a new session (refresh-token family) for a user. Beyond SESSIONS_PER_USER, the user's
-- least recently used sessions end (with the default of 1: a new login replaces the session).
-- All of a user's sessions are fields of one hash, so this script touches one key of theirs.
-- KEYS: the user's sessions hash ({u:<tag>}), live set.
-- ARGV: user id, family id, token hash, ttl ms, sessions per user, client IP, user agent.
-- Returns the family ids of the sessions it ended.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ttl = tonumber(ARGV[4])
local all = redis.call('HGETALL', KEYS[1])
local mine = {}
for i = 1, #all, 2 do
  local s = cjson.decode(all[i + 1])
  if s.exp <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif s.uid == ARGV[1] then
    mine[#mine + 1] = {all[i], s.seen}
  end
end
table.sort(mine, function(a, b) return a[2] < b[2] end)
local ended = {}
for i = 1, #mine + 1 - tonumber(ARGV[5]) do
  redis.call('HDEL', KEYS[1], mine[i][1])
  ended[#ended + 1] = mine[i][1]
end
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode({uid = ARGV[1], cur = ARGV[3], created = now, seen = now,
  exp = now + ttl, ip = ARGV[6], ua = ARGV[7]}))
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
return ended
