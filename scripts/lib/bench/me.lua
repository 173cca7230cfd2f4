-- GET /auth/me with a valid bearer token: one seeded user per wrk thread, set once, so wrk
-- sends a prebuilt request exactly as it does for the ping (no Lua per request).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. users()[1].access
end
