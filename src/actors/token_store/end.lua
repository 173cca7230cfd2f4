-- Ends sessions of a user by id, whatever their tokens: one (ARGV[2] a session field), all of
-- them (ARGV[2] empty), or all but one (ARGV[2] empty, ARGV[3] the field to keep: a password
-- change keeps the caller's session). A session of another user sharing the key is never touched.
-- KEYS: the user's sessions, the bucket's live histogram.
-- ARGV: user id (first 8 bytes), session field or '', kept field or '', granule ms.
-- Returns the fields of the sessions it ended.
local now = now_ms()
local before = redis.call('PEXPIRETIME', KEYS[1])
local ended, kept = {}, {}
for _, s in ipairs(load(KEYS[1])) do
  if uid(s[2]) == ARGV[1] and (ARGV[2] == '' or ARGV[2] == s[1]) and ARGV[3] ~= s[1] then
    ended[#ended + 1] = s[1]
  else
    kept[#kept + 1] = s
  end
end
save(KEYS[1], KEYS[2], kept, now, tonumber(ARGV[4]), before)
return ended
