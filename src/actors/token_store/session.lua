-- Shared by every session script (prepended to each): the layout of a session record, and the
-- bookkeeping of a user's key expiry and of the live-users histogram.
--
-- A user's sessions are the fields of one hash (KEYS[1]), named by the random half of their
-- family id (8 bytes). A record is binary, big-endian:
--    1..8   the user id's first 8 bytes (the last 8 are the tag in the key's name)
--    9..24  the current token's digest        25..40 the predecessor's digest (zeros: none)
--   41..56  the current token's random bytes, sealed under the predecessor (zeros: none)
--   57..62  rotated at (Unix ms)   63..68 created   69..74 last refreshed   75..80 expires
--   81      the client IP's length (4 or 16), then the IP, then the user agent (the rest)
-- KEYS[2] is the live-users histogram of the user's bucket (same hash slot): one field per
-- granule, the granule's end in Unix seconds, counting the users whose key expires in it.
local NONE = string.rep('\0', 16)

local function u48(s, i)
  local a, b, c, d, e, f = string.byte(s, i, i + 5)
  return ((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f
end

local function b48(n)
  local out = {}
  for i = 6, 1, -1 do
    out[i] = n % 256
    n = math.floor(n / 256)
  end
  return string.char(unpack(out))
end

local function now_ms()
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000)
end

local function uid(r) return string.sub(r, 1, 8) end
local function cur(r) return string.sub(r, 9, 24) end
local function prev(r) return string.sub(r, 25, 40) end
local function sealed(r) return string.sub(r, 41, 56) end
local function rotated_at(r) return u48(r, 57) end
local function seen(r) return u48(r, 69) end
local function expires(r) return u48(r, 75) end

-- The granule (its end, Unix seconds) an expiry at `ms` falls in; `g` is the granule in ms.
local function granule(ms, g)
  return string.format('%d', math.ceil(ms / g) * g / 1000)
end

-- After a change to the user's hash: drops its expired sessions, makes the key expire with the
-- last of the others, and moves the user in the histogram from the granule of the key's former
-- expiry (`before`, PEXPIRETIME taken before the change) to that of the new one.
local function settle(key, live, now, g, before)
  local last = 0
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local e = expires(all[i + 1])
    if e <= now then
      redis.call('HDEL', key, all[i])
    elseif e > last then
      last = e
    end
  end
  if last > 0 then redis.call('PEXPIREAT', key, last) end
  local old = before > now and granule(before, g) or nil
  local new = last > 0 and granule(last, g) or nil
  if old ~= new then
    if old and redis.call('HINCRBY', live, old, -1) <= 0 then redis.call('HDEL', live, old) end
    if new then redis.call('HINCRBY', live, new, 1) end
  end
end
