-- Shared by every session script (prepended to each): the layout of a user's sessions, and the
-- bookkeeping of the key's expiry and of the live-users histogram.
--
-- All of a user's sessions are one string (KEYS[1]): one entry per session, each the session's
-- field (the random half of its family id, 8 bytes), the record's length (2 bytes) and the
-- record. One string rather than a hash: Redis keeps a hash with values over 64 bytes as a hash
-- table, at about twice the memory. A record is binary, big-endian:
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

-- The user's sessions: a list of {field, record}.
local function load(key)
  local blob = redis.call('GET', key)
  local list = {}
  if not blob then return list end
  local i = 1
  while i + 9 <= #blob do
    local hi, lo = string.byte(blob, i + 8, i + 9)
    local n = hi * 256 + lo
    list[#list + 1] = {string.sub(blob, i, i + 7), string.sub(blob, i + 10, i + 9 + n)}
    i = i + 10 + n
  end
  return list
end

-- The position of session `field` in `list`, or nil.
local function find(list, field)
  for i = 1, #list do
    if list[i][1] == field then return i end
  end
  return nil
end

-- Writes `list` back, without its expired sessions: the key expires with the last of them (or
-- is deleted when none is left), and the user moves in the histogram from the granule of the
-- key's former expiry (`before`, PEXPIRETIME taken before the change) to that of the new one.
local function save(key, live, list, now, g, before)
  local parts, last = {}, 0
  for i = 1, #list do
    local r = list[i][2]
    local e = expires(r)
    if e > now then
      parts[#parts + 1] = list[i][1] .. string.char(math.floor(#r / 256), #r % 256) .. r
      if e > last then last = e end
    end
  end
  if last > 0 then
    redis.call('SET', key, table.concat(parts), 'PXAT', last)
  else
    redis.call('DEL', key)
  end
  local old = before > now and granule(before, g) or nil
  local new = last > 0 and granule(last, g) or nil
  if old ~= new then
    if old and redis.call('HINCRBY', live, old, -1) <= 0 then redis.call('HDEL', live, old) end
    if new then redis.call('HINCRBY', live, new, 1) end
  end
end
