-- Counts one attempt against a counter (a fixed window) and says whether it is allowed. The
-- attempt is counted before any work is done, so parallel attempts cannot overshoot.
-- KEYS: the counter.  ARGV: window ms, limit.
-- Returns 0 when allowed, otherwise the milliseconds until the window ends.
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
if n > tonumber(ARGV[2]) then return ttl end
return 0
