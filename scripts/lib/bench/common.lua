-- Shared by the wrk scripts of scripts/bench: numbers each wrk thread, hands each its share of
-- the seeded users, and prints the run's summary as one JSON line for the driver to read.
-- BENCH_USERS names the users file ("name access_token refresh_token" per line) and
-- BENCH_THREADS wrk's thread count.

local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

-- The lines of BENCH_USERS this thread takes (every BENCH_THREADS-th), so no two threads
-- share a token.
function lines()
  local n = tonumber(os.getenv("BENCH_THREADS") or "1")
  local mine, i = {}, 0
  for line in io.lines(os.getenv("BENCH_USERS")) do
    if i % n == tid then
      mine[#mine + 1] = line
    end
    i = i + 1
  end
  return mine
end

-- The users of this thread.
function users()
  local mine = {}
  for _, line in ipairs(lines()) do
    local name, access, refresh = line:match("^(%S+) (%S+) (%S+)$")
    mine[#mine + 1] = { name = name, access = access, refresh = refresh }
  end
  return mine
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
