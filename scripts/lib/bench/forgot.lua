-- POST /auth/password/forgot for addresses no account has: every answer waits out the floor
-- (FORGOT_FLOOR_MS), which must cost neither CPU nor a worker meanwhile.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local requests, i = {}, 0

function init(args)
  for n = 1, 1000 do
    local body = string.format('{"email":"nobody-%d@example.com"}', n)
    requests[#requests + 1] = wrk.format("POST", "/auth/password/forgot", { ["Content-Type"] = "application/json" }, body)
  end
end

function request()
  i = i % #requests + 1
  return requests[i]
end
