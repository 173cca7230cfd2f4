-- Logout: ends the session of the presented token if it is its current token or the immediate
-- predecessor. Returns the user id, or false when there was nothing to end.
-- KEYS: the user's sessions hash ({u:<tag>}), live set.  ARGV: family id, presented hash.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local s = cjson.decode(raw)
if s.cur ~= ARGV[2] and s.prev ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  if cjson.decode(v).uid == s.uid then return s.uid end
end
redis.call('ZREM', KEYS[2], s.uid)
return s.uid
