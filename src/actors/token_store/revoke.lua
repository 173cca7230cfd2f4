-- Logout: ends the session of the presented token if it is its current token or the immediate
-- predecessor. Returns {'ended', uid}, {'gone'} when there is no such session (ended or
-- expired), or {'kept'} when the token is not one that may end it.
-- KEYS: the user's sessions, the bucket's live histogram.
-- ARGV: session field, presented digest, granule ms.
local list = load(KEYS[1])
local i = find(list, ARGV[1])
if not i then return {'gone'} end
local raw = list[i][2]
if cur(raw) ~= ARGV[2] and prev(raw) ~= ARGV[2] then return {'kept'} end
local now = now_ms()
local before = redis.call('PEXPIRETIME', KEYS[1])
table.remove(list, i)
save(KEYS[1], KEYS[2], list, now, tonumber(ARGV[3]), before)
return {'ended', uid(raw)}
