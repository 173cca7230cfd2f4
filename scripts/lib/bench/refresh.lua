-- POST /auth/refresh for many users, each token used once: a request takes a refresh token
-- from this thread's queue and its response puts the rotated one back. With more users than
-- connections the queue never runs dry unless refreshes fail.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local queue, head, tail = {}, 1, 0
local cookie = os.getenv("BENCH_COOKIE") or "jwt"

function init(args)
  for _, u in ipairs(users()) do
    tail = tail + 1
    queue[tail] = u.refresh
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
