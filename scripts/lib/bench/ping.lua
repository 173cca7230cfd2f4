-- GET /: the framework's ceiling.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
