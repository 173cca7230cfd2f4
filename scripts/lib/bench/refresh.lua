-- POST /auth/refresh for many users, each token used once: a request takes a refresh token
-- from this thread's queue and its response puts the rotated one back. With more users than
-- connections the queue never runs dry unless refreshes fail. Each line of BENCH_USERS ends
-- with a refresh token ("name access refresh" as seeded, or the token alone as the previous
-- run left it); at the end the tokens the threads hold are written back to it, for the next
-- run. The tokens of requests in flight when wrk stops are lost, one per connection at most.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

-- A global, so that the main state can read it from each thread (`thread:get`).
queue = {}
local head, tail = 1, 0
local cookie = os.getenv("BENCH_COOKIE") or "jwt"

function init(args)
  for _, line in ipairs(lines()) do
    tail = tail + 1
    queue[tail] = line:match("(%S+)$")
  end
end

function request()
  local token = "dry"
  if head <= tail then
    token = queue[head]
    queue[head] = nil
    head = head + 1
  end
  -- A dry queue sends a token of the wrong shape: refused, and counted as an error.
  return wrk.format("POST", "/auth/refresh", { ["Cookie"] = cookie .. "=" .. token })
end

function response(status, headers, body)
  local set = headers["set-cookie"] or headers["Set-Cookie"]
  if status == 200 and set then
    local token = set:match("^" .. cookie .. "=([^;]+)")
    if token then
      tail = tail + 1
      queue[tail] = token
    end
  end
end

local threads, number_thread, summarise = {}, setup, done

function setup(thread)
  number_thread(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  summarise(summary, latency, requests)
  local out = assert(io.open(os.getenv("BENCH_USERS"), "w"))
  for _, thread in ipairs(threads) do
    for _, token in pairs(thread:get("queue")) do
      out:write(token, "\n")
    end
  end
  out:close()
end
