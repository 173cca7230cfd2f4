-- Starts a new session (refresh-token family) for a user. Beyond SESSIONS_PER_USER, the user's
-- least recently used sessions end (with the default of 1: a new login replaces the session).
-- KEYS: the user's sessions, the bucket's live histogram.
-- ARGV: user id (first 8 bytes), session field, token digest, ttl ms, sessions per user,
--       client IP (length byte, then the bytes), user agent, granule ms.
-- Returns the fields of the sessions it ended.
local now = now_ms()
local before = redis.call('PEXPIRETIME', KEYS[1])
local list = load(KEYS[1])
local mine = {}
for i = 1, #list do
  local r = list[i][2]
  if expires(r) > now and uid(r) == ARGV[1] then mine[#mine + 1] = {i, seen(r)} end
end
table.sort(mine, function(a, b) return a[2] < b[2] end)
local ended, gone = {}, {}
for i = 1, #mine + 1 - tonumber(ARGV[5]) do
  gone[mine[i][1]] = true
  ended[#ended + 1] = list[mine[i][1]][1]
end
local kept = {}
for i = 1, #list do
  if not gone[i] then kept[#kept + 1] = list[i] end
end
local stamp = b48(now)
kept[#kept + 1] = {ARGV[2],
  ARGV[1] .. ARGV[3] .. NONE .. NONE .. stamp .. stamp .. stamp .. b48(now + tonumber(ARGV[4])) .. ARGV[6] .. ARGV[7]}
save(KEYS[1], KEYS[2], kept, now, tonumber(ARGV[8]), before)
return ended
