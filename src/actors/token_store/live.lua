-- Counts the users of one bucket whose sessions key has not expired, from the bucket's live
-- histogram, and drops the granules that have ended. KEYS: the histogram.
local t = redis.call('TIME')
local n = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if tonumber(all[i]) <= tonumber(t[1]) then
    redis.call('HDEL', KEYS[1], all[i])
  else
    n = n + tonumber(all[i + 1])
  end
end
return n
