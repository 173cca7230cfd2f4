-- Ends sessions of a user by id, whatever their tokens: one (ARGV[2] a session field), all of
-- them (ARGV[2] empty), or all but one (ARGV[2] empty, ARGV[3] the field to keep: a password
-- change keeps the caller's session). A session of another user sharing the hash is never touched.
-- KEYS: the user's sessions hash, the bucket's live histogram.
-- ARGV: user id (first 8 bytes), session field or '', kept field or '', granule ms.
-- Returns the fields of the sessions it ended.
local now = now_ms()
local before = redis.call('PEXPIRETIME', KEYS[1])
local ended = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if uid(all[i + 1]) == ARGV[1] and (ARGV[2] == '' or ARGV[2] == all[i]) and ARGV[3] ~= all[i] then
    redis.call('HDEL', KEYS[1], all[i])
    ended[#ended + 1] = all[i]
  end
end
settle(KEYS[1], KEYS[2], now, tonumber(ARGV[4]), before)
return ended
