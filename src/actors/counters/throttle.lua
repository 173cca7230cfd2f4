-- Counts one attempt against each counter (fixed windows) and says whether it is allowed.
-- The attempt is counted before any work is done, so parallel attempts cannot overshoot.
-- KEYS: counters.  ARGV: window ms, then one limit per counter (0 = no limit).
-- Returns 0 when allowed, otherwise the milliseconds until the longest-blocking window ends.
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[i + 1])
  if limit > 0 then
    local n = redis.call('INCR', key)
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, ARGV[1])
      ttl = tonumber(ARGV[1])
    end
    if n > limit and ttl > wait then wait = ttl end
  end
end
return wait
