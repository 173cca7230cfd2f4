-- Records revocations for replay and publishes them to every replica, atomically.
-- KEYS: a shard of the record (a sorted set of encoded revocations by the Unix ms they expire).
-- ARGV: channel, window ms, revocation...
-- Each is published as '<Unix ms now>|<revocation>', so a receiver can tell how late it heard.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], now + window, ARGV[i])
  redis.call('PUBLISH', ARGV[1], now .. '|' .. ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], window)
return now
