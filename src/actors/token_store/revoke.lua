-- Logout: ends the session of the presented token if it is its current token or the immediate
-- predecessor. Returns {'ended', uid}, {'gone'} when there is no such session (ended or
-- expired), or {'kept'} when the token is not one that may end it.
-- KEYS: the user's sessions hash ({u:<tag>}), live set.  ARGV: family id, presented hash.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {'gone'} end
local s = cjson.decode(raw)
if s.cur ~= ARGV[2] and s.prev ~= ARGV[2] then return {'kept'} end
redis.call('HDEL', KEYS[1], ARGV[1])
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  if cjson.decode(v).uid == s.uid then return {'ended', s.uid} end
end
redis.call('ZREM', KEYS[2], s.uid)
return {'ended', s.uid}
