-- POST /auth/login with the correct password of one seeded user after another.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local requests, i = {}, 0

function init(args)
  local password = os.getenv("BENCH_PASSWORD")
  for _, u in ipairs(users()) do
    local body = string.format('{"username":"%s","password":"%s"}', u.name, password)
    requests[#requests + 1] = wrk.format("POST", "/auth/login", { ["Content-Type"] = "application/json" }, body)
  end
end

function request()
  i = i % #requests + 1
  return requests[i]
end
