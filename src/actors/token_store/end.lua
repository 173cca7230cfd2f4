-- Ends sessions of a user by id, whatever their tokens: one (ARGV[2] a family id), all of them
-- (ARGV[2] empty), or all but one (ARGV[2] empty, ARGV[3] the family id to keep: a password
-- change keeps the caller's session). A family of another user sharing the hash is never touched.
-- KEYS: the user's sessions hash ({u:<tag>}), live set.  ARGV: user id, family id or '', kept family id or ''.
-- Returns the family ids of the sessions it ended.
local ended = {}
local left = false
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if cjson.decode(all[i + 1]).uid == ARGV[1] then
    if (ARGV[2] == '' or ARGV[2] == all[i]) and ARGV[3] ~= all[i] then
      redis.call('HDEL', KEYS[1], all[i])
      ended[#ended + 1] = all[i]
    else
      left = true
    end
  end
end
if not left then redis.call('ZREM', KEYS[2], ARGV[1]) end
return ended
