-- Logout: ends the session of the presented token if it is its current token or the immediate
-- predecessor. Returns {'ended', uid}, {'gone'} when there is no such session (ended or
-- expired), or {'kept'} when the token is not one that may end it.
-- KEYS: the user's sessions hash, the bucket's live histogram.
-- ARGV: session field, presented digest, granule ms.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {'gone'} end
if cur(raw) ~= ARGV[2] and prev(raw) ~= ARGV[2] then return {'kept'} end
local now = now_ms()
local before = redis.call('PEXPIRETIME', KEYS[1])
redis.call('HDEL', KEYS[1], ARGV[1])
settle(KEYS[1], KEYS[2], now, tonumber(ARGV[3]), before)
return {'ended', uid(raw)}
