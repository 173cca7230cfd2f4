#!/usr/bin/env python3
"""The driver of scripts/bench (which installs the tools and builds the release binary first).

Starts its own gatehouse on a free loopback port, against its own PostgreSQL database and Redis
key prefix (or the embedded backend), seeds users through the API, runs each scenario with wrk
for a bounded time, measures the baselines in the same run, and prints the Markdown tables.
Everything it starts is stopped, and everything it creates removed, on any exit.

The Redis is one of three deployments (--redis): `node`, the machine's Redis at REDIS_URL (the
default); `cluster`, a Redis Cluster of 3 primaries + 3 replicas; `sentinel`, a primary and a
replica watched by 3 Sentinels. The last two are started here on loopback by
scripts/redis-topology and stopped at exit. --wait-replicas N runs the service with
REDIS_WAIT_REPLICAS=N: every session change waits for N replicas (Redis WAIT) before answering.
"""

import argparse
import concurrent.futures
import csv
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LUA = os.path.join(ROOT, "scripts", "lib", "bench")
RELEASE = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release")
# BENCH_BINARY measures another build (an older commit's, for a before/after) with this harness.
BINARY = os.environ.get("BENCH_BINARY", os.path.join(RELEASE, "gatehouse"))
CEILING = os.path.join(RELEASE, "examples", "hash_ceiling")
TOKEN_STORE = os.path.join(ROOT, "src", "actors", "token_store")
TOPOLOGY = os.path.join(ROOT, "scripts", "redis-topology")
PASSWORD = "bench-" + secrets.token_hex(8)
MIB = 1024 * 1024
# OWASP's Argon2id minimum, whatever the caller's environment says: the benchmark measures the
# production cost.
ARGON2 = {"ARGON2_M_KIB": "19456", "ARGON2_T": "2", "ARGON2_P": "1"}
THROTTLE_OFF_LIMIT = "1000000000"
# The scenarios judged against a baseline run, with it, in this many interleaved rounds, each
# this share of --duration (10 × 2 s at the default 10 s); a smoke run does one round.
ROUNDS = 10
ROUND_SHARE = 0.2
# Users whose access tokens the bearer scenarios present (no login of the run touches them).
BEARERS = 16
# The forgot route's answer floor the service runs with (its default).
FORGOT_FLOOR_MS = 250
# The refresh-token lifetime and reuse grace the service runs with (their defaults unless the
# caller's environment sets them, which passes through): the Redis ceiling rotates with the same.
REFRESH_TTL_S = int(os.environ.get("REFRESH_TOKEN_TTL", "172800"))
REUSE_GRACE_S = int(os.environ.get("REFRESH_REUSE_GRACE", "10"))
# Users the Redis ceiling seeds, one session each, over all of its buckets, and what the sessions
# hold: the user id's first 8 bytes, the session's field (8 bytes), the digest every call presents
# and the sealed successor (16 bytes each), the client's IP as records store it (length, bytes),
# and a browser's user agent (records carry it: its size counts). The field, the digest and the
# sealed successor are printable: redis-benchmark takes them as command-line arguments.
CEILING_SESSIONS = 10_000
SESSION_UID = bytes(range(1, 9))
SESSION_FIELD = "bench-fa"
SESSION_DIGEST = "ab" * 8
SESSION_SEALED = "cd" * 8
SESSION_IP = bytes([4, 127, 0, 0, 1])
SESSION_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
# The Redis deployments --redis selects, as the report's header names them.
DEPLOYMENTS = {
    "node": "Redis, one node (the machine's, REDIS_URL)",
    "cluster": "Redis Cluster (3 primaries + 3 replicas, started here)",
    "sentinel": "Redis behind Sentinels (1 primary + 1 replica, 3 Sentinels, started here)",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def url_parts(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname or "127.0.0.1", u.port, u.password, u.path.lstrip("/")


class Cleanup:
    """What to undo at exit, last registered first."""

    def __init__(self):
        self.steps = []

    def add(self, what, fn):
        self.steps.append((what, fn))

    def run(self):
        while self.steps:
            what, fn = self.steps.pop()
            try:
                fn()
            except Exception as e:  # cleanup goes on whatever one step did
                log(f"cleanup: {what}: {e}")


class Redis:
    """One Redis server through redis-cli: the machine's, a cluster's primary, or the primary the
    Sentinels name."""

    def __init__(self, host, port, password=None, db=None):
        self.host, self.port = host, int(port)
        self.args = ["-h", host, "-p", str(self.port)]
        if password:
            self.args += ["-a", urllib.parse.unquote(password), "--no-auth-warning"]
        self.db = ["-n", db] if db else []
        self.local = host in ("127.0.0.1", "localhost", "::1")

    @classmethod
    def from_url(cls, url):
        host, port, password, db = url_parts(url)
        return cls(host, port or 6379, password, db)

    @property
    def addr(self):
        return f"{self.host}:{self.port}"

    def cli(self, *cmd, stdin=None):
        # -e: an error reply fails the command (redis-cli prints it and exits 0 otherwise, so
        # a NOSCRIPT or a MOVED would pass for a result).
        out = subprocess.run(["redis-cli", "-e", *self.args, *self.db, *cmd], input=stdin, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"redis-cli {self.addr} {' '.join(cmd[:2])}: {(out.stdout + out.stderr).strip()}")
        return out.stdout.strip()

    def info(self, section):
        return dict(line.split(":", 1) for line in self.cli("INFO", section).splitlines() if ":" in line)

    def pid(self):
        if not self.local:
            return None
        pid = self.info("server").get("process_id")
        return int(pid) if pid and os.path.exists(f"/proc/{pid}/stat") else None

    def time_ms(self):
        seconds, micros = self.cli("TIME").split()
        return int(seconds) * 1000 + int(micros) // 1000

    def keys(self, pattern):
        """This server's keys matching `pattern` (a cluster primary's own: SCAN is per node)."""
        return self.cli("--scan", "--pattern", pattern).splitlines()

    def pipe(self, commands):
        """Sends `commands` (lists of str or bytes arguments) pipelined, through redis-cli --pipe:
        one round trip for them all, and binary-safe (a NUL byte cannot be a command-line
        argument). Error replies fail it; the other replies are dropped."""
        def bulk(arg):
            b = arg if isinstance(arg, bytes) else str(arg).encode()
            return b"$%d\r\n%s\r\n" % (len(b), b)

        resp = b"".join(b"*%d\r\n" % len(cmd) + b"".join(bulk(a) for a in cmd) for cmd in commands)
        if not resp:
            return
        out = subprocess.run(["redis-cli", *self.args, *self.db, "--pipe"], input=resp, capture_output=True, check=True).stdout.decode()
        m = re.search(r"errors: (\d+), replies: (\d+)", out)
        if not m or m.group(1) != "0" or int(m.group(2)) != len(commands):
            raise RuntimeError(f"redis-cli --pipe {self.addr} ({commands[0][0]} ...): {out.strip()}")

    def unlink(self, keys):
        """UNLINKs `keys`, one command per key: a cluster's primary refuses a command whose keys
        span hash slots, and one key is always in one."""
        self.pipe([["UNLINK", k] for k in keys])


class Deployment:
    """The Redis a run uses (--redis), and what the benchmark needs of it whatever its kind: the
    variables that name it to gatehouse, its primaries (where keys are seeded, scripts loaded
    and keys deleted), and the CPU time its processes spent.

    `node` is the machine's Redis at REDIS_URL (scripts/bench starts one on 6379 if none
    answers), shared with whatever else uses it: the run touches only its own key prefix.
    `cluster` and `sentinel` are started by scripts/redis-topology in the work directory and
    stopped at exit, every one of their processes this run's own."""

    def __init__(self, kind, workdir, wait_replicas):
        self.kind, self.wait_replicas = kind, wait_replicas
        self.dir = os.path.join(workdir, "redis")
        self.env, self.pids = {}, []

    def start(self, cleanup):
        if self.kind == "node":
            self.env = {"REDIS_URL": os.environ["REDIS_URL"]}
        else:
            log(f"== starting a Redis {self.kind} on loopback (scripts/redis-topology)")
            # Registered first: `stop` also ends what a failed start left behind.
            cleanup.add(f"Redis {self.kind}", lambda: subprocess.run([TOPOLOGY, "stop", self.dir], check=True, capture_output=True))
            out = subprocess.run([TOPOLOGY, self.kind, self.dir], stdout=subprocess.PIPE, text=True, check=True).stdout
            self.env = dict(re.findall(r"^export (\w+)=(.*)$", out, re.M))
            # Every process of the deployment (data nodes and Sentinels), from the pid file
            # scripts/redis-topology writes for each process it lists in DIR/topology.
            with open(os.path.join(self.dir, "topology")) as f:
                names = [line.split()[1] for line in f if line.startswith("node ")]
            for name in names:
                with open(os.path.join(self.dir, name + ".pid")) as f:
                    self.pids.append(int(f.read().strip()))
        primaries = self.primaries()
        log(f"   {DEPLOYMENTS[self.kind]}: primaries {', '.join(p.addr for p in primaries)}")
        # A wait for more replicas than a primary has never succeeds: every session change would
        # answer 503. Refused here rather than measured.
        for p in primaries:
            have = int(p.info("replication").get("connected_slaves", "0"))
            if have < self.wait_replicas:
                raise RuntimeError(f"--wait-replicas {self.wait_replicas}, but the primary {p.addr} has {have} replica(s)")

    def primaries(self):
        """The primaries serving the data now (asked each time: a failover may move them)."""
        if self.kind == "node":
            return [Redis.from_url(self.env["REDIS_URL"])]
        if self.kind == "sentinel":
            for hp in self.env["REDIS_SENTINELS"].split(","):
                host, port = hp.rsplit(":", 1)
                try:
                    reply = Redis(host, port).cli("SENTINEL", "get-master-addr-by-name", self.env["REDIS_SENTINEL_MASTER"]).split()
                except RuntimeError:
                    continue
                if len(reply) == 2:
                    return [Redis(*reply)]
            raise RuntimeError("no Sentinel names a primary")
        for hp in self.env["REDIS_CLUSTER_NODES"].split(","):
            host, port = hp.rsplit(":", 1)
            try:
                nodes = Redis(host, port).cli("CLUSTER", "NODES")
            except RuntimeError:
                continue
            # `<id> <host:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot ranges...>`
            primaries = [
                (int(f[8].split("-")[0]), Redis(*f[1].split("@")[0].rsplit(":", 1)))
                for f in (line.split() for line in nodes.splitlines())
                if "master" in f[2].split(",") and "fail" not in f[2] and len(f) > 8
            ]
            return [p for _, p in sorted(primaries, key=lambda x: x[0])]
        raise RuntimeError("no cluster node answers CLUSTER NODES")

    def describe(self):
        return f"{DEPLOYMENTS[self.kind]}, REDIS_WAIT_REPLICAS={self.wait_replicas}"

    def cpu_seconds(self):
        """CPU time spent by the deployment's processes: every redis-server of a deployment
        started here (primaries, replicas, Sentinels); for the machine's Redis, that one server
        when it is local (None when it is not)."""
        if self.kind == "node":
            return cpu_seconds(self.primaries()[0].pid())
        return sum(cpu_seconds(pid) for pid in self.pids)

    def delete_prefix(self, prefix):
        # Every primary holds its own slots' keys; replicas follow their primary.
        for p in self.primaries():
            p.unlink(p.keys(prefix + "*"))


class Postgres:
    def __init__(self, server_url, name):
        u = urllib.parse.urlsplit(server_url)
        self.admin = urllib.parse.urlunsplit(u._replace(path="/postgres"))
        self.url = urllib.parse.urlunsplit(u._replace(path="/" + name))
        self.name = name

    def psql(self, sql):
        subprocess.run(["psql", self.admin, "-qAtc", sql], check=True, capture_output=True, text=True)

    def create(self):
        self.psql(f'CREATE DATABASE "{self.name}"')

    def drop(self):
        self.psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def cpu_seconds(pid):
    """utime + stime of a process, all threads."""
    if not pid:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss(pid):
    # Writing 5 to clear_refs resets the peak resident set size (VmHWM) to the current one.
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def live_granule_ms(ttl_s):
    """`layout::live_granule` in ms: 1/288th of the refresh-token lifetime, within 1 s and 10 min."""
    return min(max(ttl_s // 288, 1), 600) * 1000


# The Redis ceiling's sessions, after its run: KEYS[1] is a bucket's live histogram,
# `<prefix>{<bucket>}:live`, and the bucket's ARGV[1] users' keys are `<prefix>{<bucket>}:<12
# digits>`, in the same hash slot. Returns how many keys are left, and how many of them expire at
# ARGV[2] (Unix ms) or later. A user's key expires with their last session, so a rotation at a
# time t moves it to t + the lifetime, and a session ended (a call that presented anything but
# the current digest is a replay, which ends it) deletes its key. Reads nothing of the sessions'
# layout: the service's scripts own it.
CHECK_LUA = """
local base = string.sub(KEYS[1], 1, -5)
local left, moved = 0, 0
for i = 0, tonumber(ARGV[1]) - 1 do
  local e = redis.call('PEXPIRETIME', base .. string.format('%012d', i))
  if e > 0 then
    left = left + 1
    if e >= tonumber(ARGV[2]) then moved = moved + 1 end
  end
end
return {left, moved}
"""


class Gatehouse:
    def __init__(self, env, workdir):
        self.env, self.workdir, self.proc = env, workdir, None
        self.base = f"http://127.0.0.1:{env['PORT']}"
        self.log_path = os.path.join(workdir, "gatehouse.log")

    def start(self, timeout=60):
        """Starts the process and returns the seconds until /health/ready answers 200."""
        logfile = open(self.log_path, "ab")
        started = time.perf_counter()
        self.proc = subprocess.Popen([BINARY], env=self.env, cwd=self.workdir, stdout=logfile, stderr=logfile)
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gatehouse exited with {self.proc.returncode}; see {self.log_path}:\n" + self.tail())
            try:
                with urllib.request.urlopen(self.base + "/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.002)
        raise RuntimeError("gatehouse did not become ready:\n" + self.tail())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def tail(self):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-20:])

    @property
    def pid(self):
        return self.proc.pid

    def metrics(self):
        """The Prometheus exposition of its management listener."""
        with urllib.request.urlopen(f"http://{self.env['METRICS_ADDR']}/metrics", timeout=10) as r:
            return r.read().decode()

    def wait_idle(self, timeout=60):
        """Waits until no password work is queued or running (`gatehouse_hasher_queue_depth` 0):
        when wrk stops, the logins in flight are abandoned, but their Argon2 runs still happen,
        and would be counted against whatever runs next."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            # Absent until the first password job.
            depth = re.search(r"^gatehouse_hasher_queue_depth (\S+)$", self.metrics(), re.M)
            if not depth or float(depth.group(1)) == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"the hasher's queue did not drain within {timeout} s")

    def call(self, method, path, cookie=None, token=None, body=None):
        """One request; returns (status, error_code, Set-Cookie refresh value, access token)."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        name = self.env.get("COOKIE_NAME", "jwt")
        if cookie:
            headers["Cookie"] = f"{name}={cookie}"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, payload, set_cookies = r.status, json.load(r), r.headers.get_all("Set-Cookie") or []
        except urllib.error.HTTPError as e:
            status, payload, set_cookies = e.code, json.load(e), []
        content = payload.get("content") or {}
        refresh = next((c.split(";", 1)[0].split("=", 1)[1] for c in set_cookies if c.startswith(name + "=")), None)
        code = content.get("error_code") if isinstance(content, dict) else None
        access = content.get("access_token") if isinstance(content, dict) else None
        return status, code, refresh, access

    def register(self, username):
        body = json.dumps({"username": username, "password": PASSWORD}).encode()
        req = urllib.request.Request(self.base + "/auth/register", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            access = json.load(r)["content"]["access_token"]
            cookie = self.env.get("COOKIE_NAME", "jwt")
            refresh = next(
                c.split(";", 1)[0].split("=", 1)[1]
                for c in r.headers.get_all("Set-Cookie")
                if c.startswith(cookie + "=")
            )
        return username, access, refresh


# A propagation sample slower than this is explained in the results (how replica B learned of
# it); one not refused after GIVE_UP_S is a revocation missed, and stops the run.
SLOW_MS = 100
GIVE_UP_S = 30
REVOCATION_COUNTS = {"gatehouse_revocations_received_total": "received", "gatehouse_revocation_lag_seconds_sum": "lag_s",
                     "gatehouse_revocation_replays_total": "subscriptions", "gatehouse_revocations_replayed_total": "replayed",
                     "gatehouse_revocations_recovered_total": "recovered"}


def revocation_counts(g):
    """What replica `g`'s listener has done so far: revocations received on the channel and their
    summed lag, (re)subscriptions and the entries their replays read, and the revocations a
    heartbeat's read of the record applied before the channel delivered them."""
    metrics = g.metrics()
    return {name: float(m.group(1)) for series, name in REVOCATION_COUNTS.items()
            if (m := re.search(rf"^{series} (\S+)$", metrics, re.M))}


def machine_cpu_seconds():
    """CPU time spent by the whole machine (every process, every core), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_wrk(script, url, connections, seconds, users_file, threads=None):
    threads = threads or min(2, connections)
    env = dict(os.environ, BENCH_LUA_DIR=LUA, BENCH_USERS=users_file, BENCH_THREADS=str(threads), BENCH_PASSWORD=PASSWORD)
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "-s", os.path.join(LUA, script), url]
    out = tempfile.TemporaryFile("w+")
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True), out


# Counts that add up over rounds; every other number is the median of the rounds.
SUMMED = {"requests", "seconds", "errors", "timeouts", "verifications"}


def combine(rounds, keep=True):
    """One result from the results of a scenario's or a baseline's rounds: counts summed (and
    the error kinds), the peak memory the highest, every other number that varies the median,
    anything else the last round's; the rounds themselves kept when there were several."""
    out = {}
    for field, last in rounds[-1].items():
        values = [r[field] for r in rounds]
        if field == "peak_rss_bytes":
            out[field] = max(values)
        elif field == "error_kinds":
            out[field] = {kind: sum(v[kind] for v in values) for kind in last}
        elif field in SUMMED:
            out[field] = sum(values)
        elif isinstance(last, dict):
            out[field] = combine(values, keep=False)
        elif isinstance(last, (int, float)) and not isinstance(last, bool) and len(set(values)) > 1:
            out[field] = statistics.median(values)
        else:
            out[field] = last
    if keep and len(rounds) > 1:
        out["rounds"] = rounds
    return out


def median_ratio(rounds, baselines, field, baseline_field=None):
    """The median over the rounds of each round's `field` ÷ its baseline's."""
    return statistics.median(r[field] / b[baseline_field or field] for r, b in zip(rounds, baselines))


def wrk_result(started):
    proc, out_file = started
    # wait4 rather than wait: its resource usage is wrk's own CPU time.
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out_file.seek(0)
    out = out_file.read()
    m = re.search(r"^BENCH_JSON (.*)$", out, re.M)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out}")
    r = json.loads(m.group(1))
    seconds = r["duration_us"] / 1e6
    errors = r["errors"]
    return {
        "requests": r["requests"],
        "seconds": seconds,
        "rps": r["requests"] / seconds,
        "p50_ms": r["latency_us"]["p50"] / 1000,
        "p90_ms": r["latency_us"]["p90"] / 1000,
        "p99_ms": r["latency_us"]["p99"] / 1000,
        "max_ms": r["latency_us"]["max"] / 1000,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "timeouts": errors["timeout"],
        "wrk_cpu_s": usage.ru_utime + usage.ru_stime,
    }


class Bench:
    def __init__(self, args, cleanup):
        self.args, self.cleanup = args, cleanup
        self.seconds = args.duration
        self.results = {"scenarios": {}, "baselines": {}, "goals": []}
        self.workdir = tempfile.mkdtemp(prefix="gh-bench-")
        cleanup.add("work directory", lambda: shutil.rmtree(self.workdir, ignore_errors=True))
        self.users_file = os.path.join(self.workdir, "users.txt")
        # The bearer scenarios' users, never logged in by the load: with one session per user
        # (the default), the login scenarios would end the sessions their tokens belong to.
        self.bearers_file = os.path.join(self.workdir, "bearers.txt")
        # The refresh rounds' own users: each round leaves the tokens it holds here for the next.
        self.tokens_file = os.path.join(self.workdir, "refresh-tokens.txt")
        self.redis = None if args.embedded else Deployment(args.redis, self.workdir, args.wait_replicas)
        self.prefix = f"gh-bench:{os.getpid()}:"

    # --- set-up ----------------------------------------------------------------------------

    def service_env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "THROTTLE_"))}
        env.update(ARGON2)
        env.update(
            HOST="127.0.0.1",
            PORT=str(free_port()),
            METRICS_ADDR=f"127.0.0.1:{free_port()}",
            GATEHOUSE_ENV="production",
            JWT_SECRET=secrets.token_urlsafe(48),
            RUST_LOG="warn",
            DATA_DIR=os.path.join(self.workdir, "data"),
            # Long enough to outlast the run: the seeded access tokens are used to the end.
            ACCESS_TOKEN_TTL="3600",
            # High enough never to interfere: every attempt comes from 127.0.0.1.
            THROTTLE_LOGIN_PER_IP=THROTTLE_OFF_LIMIT,
            THROTTLE_REGISTER_PER_IP=THROTTLE_OFF_LIMIT,
            THROTTLE_PER_ACCOUNT=THROTTLE_OFF_LIMIT,
            # Every connection comes from 127.0.0.1 too, 64 at a time and more during the storm.
            MAX_CONNECTIONS_PER_IP="0",
            FORGOT_FLOOR_MS=str(FORGOT_FLOOR_MS),
        )
        if not self.args.embedded:
            pg = Postgres(os.environ["DATABASE_URL"], f"gh_bench_{os.getpid()}")
            pg.create()
            self.cleanup.add("benchmark database", pg.drop)
            self.cleanup.add("benchmark Redis keys", lambda: self.redis.delete_prefix(self.prefix))
            # The deployment's own variables (REDIS_URL, REDIS_CLUSTER_NODES, or REDIS_SENTINELS
            # and REDIS_SENTINEL_MASTER): the caller's REDIS_* were dropped above.
            env.update(self.redis.env, DATABASE_URL=pg.url, REDIS_KEY_PREFIX=self.prefix,
                       REDIS_WAIT_REPLICAS=str(self.redis.wait_replicas))
        return env

    def start_service(self):
        self.gh = Gatehouse(self.service_env(), self.workdir)
        self.cleanup.add("gatehouse", self.gh.stop)
        log("== first start (applies the migrations)")
        self.gh.start()
        self.gh.stop()
        # Start-up with the migrations applied: process start to the first 200 on /health/ready.
        times = []
        for i in range(3):
            times.append(self.gh.start())
            if i < 2:
                self.gh.stop()
        times.sort()
        self.results["startup_s"] = {"median": times[1], "all": times}
        log(f"   start-up to ready: {', '.join(f'{t * 1000:.0f} ms' for t in times)}")

    def seed(self):
        n = self.args.users
        # A refresh round loses the tokens of the requests in flight when wrk stops (one per
        # connection at most): enough refresh users for every round, with twice the
        # connections left for the last.
        rotating = 64 * ((1 if self.args.smoke else ROUNDS) + 2)
        log(f"== seeding {n} users (and {BEARERS} for the bearer scenarios, {rotating} for refresh) through POST /auth/register")
        groups = [(self.users_file, [f"bench_{i:05d}" for i in range(n)]), (self.bearers_file, [f"bench_me_{i:02d}" for i in range(BEARERS)]),
                  (self.tokens_file, [f"bench_refresh_{i:05d}" for i in range(rotating)])]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for path, names in groups:
                rows = pool.map(self.gh.register, names)
                with open(path, "w") as f:
                    f.writelines(f"{name} {access} {refresh}\n" for name, access, refresh in rows)

    def users_for(self, script):
        return {"me.lua": self.bearers_file, "refresh.lua": self.tokens_file}.get(script, self.users_file)

    # --- baselines -------------------------------------------------------------------------

    def argon2_ceiling(self):
        """One run of Argon2's ceiling, as {"argon2": result}."""
        self.gh.wait_idle()
        log("== Argon2's ceiling (the service's hasher, alone)")
        env = dict(self.gh.env)
        out = subprocess.run([CEILING, str(max(2.0, self.seconds / 2))], env=env, capture_output=True, text=True, check=True)
        ceiling = json.loads(out.stdout)
        log(f"   t_hash {ceiling['t_hash_s'] * 1000:.1f} ms, ceiling {ceiling['ceiling_per_s']:.1f}/s")
        return {"argon2": ceiling}

    def redis_ceiling(self, connections=64):
        """Prepares Redis's ceiling and returns `measure()`, one run of it as {"redis": result},
        and `finish(result)`, which checks what the runs left and records it in `result`.

        The ceiling is redis-benchmark running the rotate script itself, each call doing a real
        rotation (the presented digest is the current one, and the successor's digest is the
        same, so it stays current), at the same concurrency, on the deployment under test (the current
        primary behind Sentinels; every primary of a cluster, in cluster mode).

        The scripts are the service's own, each `session.lua` + "\n" + its body as `RedisTokens`
        builds them: the sessions are stored by `issue.lua` (one per user, as a login stores
        it), so they are real records in whatever layout the scripts define, and rotated by
        `rotate.lua`. The users' keys are `<prefix>{<bucket>}:<12 digits>` (redis-benchmark's
        `__rand_int__`, standing in for the user's tag) beside the bucket's
        `<prefix>{<bucket>}:live`. One bucket per primary: redis-benchmark draws each
        `__rand_int__` of a call on its own, so the only bucket both keys of a call can share is
        a fixed one (see `ceiling_buckets`).
        """
        cluster = self.redis.kind == "cluster"
        primaries = self.redis.primaries()
        script = {}
        with open(os.path.join(TOKEN_STORE, "session.lua")) as f:
            layout = f.read()
        for name in ("issue", "rotate"):
            with open(os.path.join(TOKEN_STORE, name + ".lua")) as f:
                script[name] = layout + "\n" + f.read()
        # EVALSHA runs only a script the node it reaches has cached: loaded on every primary.
        sha = {}
        for name, text in script.items():
            shas = {p.cli("SCRIPT", "LOAD", text) for p in primaries}
            assert len(shas) == 1, shas
            sha[name] = shas.pop()
        pfx = self.prefix + "rb:"
        buckets = self.ceiling_buckets(pfx, primaries)
        # The same number of users as ever over all buckets; __rand_int__ picks one of a bucket's.
        per_bucket = -(-CEILING_SESSIONS // len(buckets))
        ttl_ms, grace_ms, granule_ms = REFRESH_TTL_S * 1000, REUSE_GRACE_S * 1000, live_granule_ms(REFRESH_TTL_S)
        for p, bucket in buckets:
            # issue.lua's arguments, as `RedisTokens::store_new` passes them (SESSIONS_PER_USER 1).
            p.pipe([["EVALSHA", sha["issue"], "2", f"{pfx}{bucket}:{i:012d}", f"{pfx}{bucket}:live", SESSION_UID, SESSION_FIELD,
                     SESSION_DIGEST, ttl_ms, 1, SESSION_IP, SESSION_UA, granule_ms] for i in range(per_bucket)])
        keys = f"{pfx}{{tag}}" if cluster else f"{pfx}{buckets[0][1]}"
        # rotate.lua's arguments, as `RedisTokens::rotate` passes them, the presented token's tag
        # verified.
        call = ["EVALSHA", sha["rotate"], "2", keys + ":__rand_int__", keys + ":live", SESSION_FIELD, SESSION_DIGEST, SESSION_DIGEST,
                SESSION_SEALED, str(ttl_ms), str(grace_ms), "1", str(granule_ms)]

        def by_hand(when):
            # One call per bucket through redis-cli: the reply must be a rotation. (A call naming
            # no session answers `gone`, at full speed, and redis-benchmark never sees replies.)
            for p, bucket in buckets:
                reply = p.cli(*call[:3], f"{pfx}{bucket}:{0:012d}", f"{pfx}{bucket}:live", *call[5:]).splitlines()
                if reply[:1] != ["rotated"]:
                    raise RuntimeError(f"the rotate call on {p.addr} {when} answered {reply[:1]}, not `rotated`")

        by_hand("before the runs")
        # Expiries from here on are the calls' (strictly after the seeding's and the call above).
        time.sleep(0.002)
        since = {p.addr: p.time_ms() for p, _ in buckets}
        seed = primaries[0]
        target = ["--cluster", *seed.args] if cluster else [*seed.args, *seed.db]

        def run(n):
            cmd = ["redis-benchmark", *target, "-c", str(connections), "-n", str(n), "-r", str(per_bucket), "--csv", *call]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            # In cluster mode the CSV follows a list of the primaries.
            rows = out[out.index('"test"'):]
            return next(r for r in csv.DictReader(io.StringIO(rows)) if r.get("rps"))

        # The probe sizes every run to about `self.seconds`.
        probe = float(run(5_000)["rps"])

        def measure():
            self.gh.wait_idle()
            log("== Redis's ceiling (redis-benchmark, the rotate script, one call per request)")
            n = max(10_000, int(probe * self.seconds))
            row = run(n)
            result = {
                "connections": connections,
                "requests": n,
                "rps": float(row["rps"]),
                "p50_ms": float(row["p50_latency_ms"]),
                "p99_ms": float(row["p99_latency_ms"]),
                "command": " ".join(["redis-benchmark", *(["--cluster"] if cluster else []), "-c", str(connections), "-n", str(n),
                                     "-r", str(per_bucket), *call]),
                "deployment": self.redis.kind,
                "primaries": [p.addr for p in primaries],
                "buckets": {p.addr: bucket for p, bucket in buckets},
            }
            log(f"   {result['rps']:.0f} rotations/s, p99 {result['p99_ms']:.2f} ms")
            return {"redis": result}

        def finish(result):
            # The calls rotated: no user lost their session, and the expiry of those the calls
            # drew moved (`CHECK_LUA`). redis-benchmark itself exits on any error reply.
            left = rotated = 0
            for p, bucket in buckets:
                k, r = p.cli("EVAL", CHECK_LUA, "1", f"{pfx}{bucket}:live", str(per_bucket), str(since[p.addr] + ttl_ms)).split()
                left, rotated = left + int(k), rotated + int(r)
            by_hand("after the runs")
            users = per_bucket * len(buckets)
            if left != users or rotated == 0:
                raise RuntimeError(f"the ceiling's calls did not rotate: {left} of {users} sessions left, {rotated} rotated")
            # `rotated`: the sessions the calls drew at least once.
            result["sessions"] = {"seeded": users, "left": left, "rotated": rotated}
            log(f"   {rotated} of {users} sessions rotated, in {len(buckets)} bucket(s), none lost")

        return measure, finish

    def ceiling_buckets(self, pfx, primaries):
        """[(primary, bucket)]: where the ceiling's sessions live, `{<bucket>}` being the hash tag
        of both keys of every call, so that each call stays in one hash slot.

        On one node (alone, or behind Sentinels) a single bucket: where a key lies costs one
        Redis nothing. In a cluster, the bucket redis-benchmark --cluster sends each primary.
        It does not route by key: each connection is bound to one primary (connection i to
        primary i mod n, a thread per primary) and gets every command there, after replacing
        each `{tag}` in its arguments by a hash tag of that primary's first slot (1 to 3
        characters; a short one padded with `}`, as `{8M}}`). A command without `{tag}` meets a
        MOVED on the other primaries, on which redis-benchmark 7 exits. The tags come from a
        table compiled into redis-benchmark: learnt here by letting it write one key per
        primary."""
        if self.redis.kind != "cluster":
            return [(primaries[0], "{000}")]
        probe = pfx + "{tag}:probe"
        # One connection per primary, each making a request at least.
        n = len(primaries)
        cmd = ["redis-benchmark", "--cluster", *primaries[0].args, "-c", str(n), "-n", str(10 * n), "SET", probe, "1"]
        subprocess.run(cmd, capture_output=True, text=True, check=True)
        buckets = []
        for p in primaries:
            keys = p.keys(pfx + "*:probe")
            if len(keys) != 1:
                raise RuntimeError(f"redis-benchmark --cluster wrote {keys} on {p.addr}, not one key")
            buckets.append((p, keys[0][len(pfx):-len(":probe")]))
            p.unlink(keys)
        return buckets

    # --- scenarios -------------------------------------------------------------------------

    def scenario(self, name, runs, label=None):
        """Runs `runs` ([(key, script, path, connections)]) at once; records each, and returns
        {key: result}."""
        self.gh.wait_idle()
        load = os.getloadavg()[0]
        log(f"== {label or name} (load {load:.2f})")
        redis_cpu = self.redis.cpu_seconds if self.redis else lambda: None
        reset_peak_rss(self.gh.pid)
        cpu_before = cpu_seconds(self.gh.pid), redis_cpu(), machine_cpu_seconds()
        procs = [(key, conns, run_wrk(script, self.gh.base + path, conns, self.seconds, self.users_for(script), threads=1 if len(runs) > 1 else None))
                 for key, script, path, conns in runs]
        results = [(key, conns, wrk_result(p)) for key, conns, p in procs]
        cpu_after = cpu_seconds(self.gh.pid), redis_cpu(), machine_cpu_seconds()
        peak = status_kib(self.gh.pid, "VmHWM") * 1024
        total = sum(r["requests"] for _, _, r in results) or 1
        # Where the machine's CPU went, per request: gatehouse, Redis (every process of the
        # deployment: replicas and Sentinels too), the load generator, and everything else
        # running meanwhile (PostgreSQL, other processes).
        gatehouse = cpu_after[0] - cpu_before[0]
        redis = cpu_after[1] - cpu_before[1] if cpu_before[1] is not None and cpu_after[1] is not None else 0.0
        wrk = sum(r["wrk_cpu_s"] for _, _, r in results)
        machine = cpu_after[2] - cpu_before[2]
        for key, conns, r in results:
            r.update(connections=conns, peak_rss_bytes=peak, load_before=load)
            r["cpu_us_per_request"] = {
                "gatehouse": gatehouse / total * 1e6,
                "redis": redis / total * 1e6,
                "wrk": wrk / total * 1e6,
                "other": max(0.0, machine - gatehouse - redis - wrk) / total * 1e6,
                "machine_busy_cores": machine / r["seconds"],
            }
            log(f"   {key}: {r['rps']:.0f}/s p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms errors {r['errors']}")
        return {key: r for key, _, r in results}

    def rounds(self, steps):
        """Runs `steps` ([measure], each `measure()` one run of a scenario or a baseline for
        `ROUND_SHARE` of the duration, returning {key: result}) one after the other, `ROUNDS`
        times (once in a smoke run), in reverse order every other round; returns {key: [result
        of each round]}. A goal that is a ratio to a baseline is judged on each round's own
        baseline, run seconds before or after, and the median of the rounds is kept: the
        machine's speed drifts, and a loaded machine stalls whole processes for a second or more
        now and then, which one long run each turns into a ratio off by a tenth either way.
        Reversing the order cancels a steady drift; the median drops a round a stall hit."""
        count = 1 if self.args.smoke else ROUNDS
        seconds, self.seconds = self.seconds, max(2, round(self.seconds * ROUND_SHARE))
        kept = {}
        try:
            for i in range(count):
                log(f"-- round {i + 1} of {count}")
                for measure in steps if i % 2 == 0 else reversed(steps):
                    for key, r in measure().items():
                        kept.setdefault(key, []).append(r)
        finally:
            self.seconds = seconds
        return kept

    def wrk_step(self, name, runs, label):
        """A step of `rounds`: one `scenario`."""
        return lambda: self.scenario(name, runs, label)

    def run(self):
        if self.redis:
            self.redis.start(self.cleanup)
            self.results["redis"].update(env=self.redis.env, primaries=[p.addr for p in self.redis.primaries()])
        self.start_service()
        self.seed()
        s, b = self.results["scenarios"], self.results["baselines"]
        kept = self.rounds([self.wrk_step("ping", [("ping", "ping.lua", "/", 64)], "GET / (the framework's ceiling)"),
                            self.wrk_step("me", [("me", "me.lua", "/auth/me", 64)], "GET /auth/me"),
                            self.wrk_step("jwks", [("jwks", "ping.lua", "/.well-known/jwks.json", 64)],
                                          "GET /.well-known/jwks.json (pre-rendered)")])
        s["ping"] = combine(kept["ping"])
        for key in ("me", "jwks"):
            s[key] = combine(kept[key])
            s[key]["ratio_to_ping"] = {f: median_ratio(kept[key], kept["ping"], f) for f in ("rps", "p99_ms")}
        if self.redis:
            measure, finish = self.redis_ceiling()
            kept = self.rounds([measure, self.wrk_step("refresh", [("refresh", "refresh.lua", "/auth/refresh", 64)], "POST /auth/refresh")])
            b["redis"], s["refresh"] = combine(kept["redis"]), combine(kept["refresh"])
            finish(b["redis"])
            s["refresh"]["ratio_to_ceiling"] = {"rps": median_ratio(kept["refresh"], kept["redis"], "rps")}
        else:
            s["refresh"] = self.scenario("refresh", [("refresh", "refresh.lua", "/auth/refresh", 64)], "POST /auth/refresh")["refresh"]
        kept = self.rounds([self.argon2_ceiling, self.wrk_step("login", [("login", "login.lua", "/auth/login", 64)], "POST /auth/login")])
        b["argon2"], s["login"] = combine(kept["argon2"]), combine(kept["login"])
        s["login"]["ratio_to_ceiling"] = {"rps": median_ratio(kept["login"], kept["argon2"], "rps", "ceiling_per_s")}
        kept = self.rounds([self.wrk_step("me_32", [("me_32", "me.lua", "/auth/me", 32)], "GET /auth/me, 32 connections (the storm's reference)"),
                            self.wrk_step("storm", [("storm_login", "login.lua", "/auth/login", 32), ("storm_me", "me.lua", "/auth/me", 32)],
                                          "login storm (32) + GET /auth/me (32)")])
        for key in ("me_32", "storm_login", "storm_me"):
            s[key] = combine(kept[key])
        s["storm_me"]["ratio_to_alone"] = {f: median_ratio(kept["storm_me"], kept["me_32"], f) for f in ("rps", "p99_ms")}
        s["forgot"] = self.scenario("forgot", [("forgot", "forgot.lua", "/auth/password/forgot", 64)],
                                    "POST /auth/password/forgot (unknown addresses)")["forgot"]
        for key, x in s.items():
            if len(x.get("rounds", ())) > 1:
                log(f"   {key}, median of {len(x['rounds'])} rounds: {x['rps']:.0f}/s p99 {x['p99_ms']:.2f} ms"
                    + "".join(f", {name} {r['rps']:.2f}" for name, r in x.items() if name.startswith("ratio_to_")))
        if self.redis:
            self.propagation()
        self.judge()

    def propagation(self, connections=16):
        """Revocation across replicas: a second replica over the same stores; while wrk runs
        /auth/me on both, a user logs in on A, B sees the token, the user logs out on A, and B is
        polled until it answers 401 SESSION_REVOKED. The time from A's 200 to B's first 401 is one
        sample; 1,000 samples (20 in a smoke run), so that the p99 is the tenth-largest delay,
        not the second: one stall of the machine that touches two samples does not decide it."""
        n = 20 if self.args.smoke else 1000
        log(f"== revocation propagation, replica A to replica B ({n} logouts, GET /auth/me load on both)")
        # B's listener says when it subscribes and what it replays: a few lines a run, which the
        # failure below prints.
        env = dict(self.gh.env, PORT=str(free_port()), METRICS_ADDR=f"127.0.0.1:{free_port()}",
                   RUST_LOG="warn,gatehouse::revocation=info")
        b = Gatehouse(env, self.workdir)
        b.log_path = os.path.join(self.workdir, "gatehouse-b.log")
        self.cleanup.add("replica B", b.stop)
        b.start()
        a = self.gh
        name = "bench_propagation"
        status, _, _, _ = a.call("POST", "/auth/register", body={"username": name, "password": PASSWORD})
        assert status == 201, status
        # Enough load for every sample (a login costs one Argon2 verification); wrk is stopped
        # when the last sample is in.
        seconds = max(self.seconds, int(n * 0.3) + 10)
        loads = [run_wrk("me.lua", g.base + "/auth/me", connections, seconds, self.bearers_file, threads=1) for g in (a, b)]
        delays, unavailable, started = [], 0, time.perf_counter()
        slow = []
        try:
            for _ in range(n):
                # The storm before may still fill the hasher's queue: a shed login (503) waits.
                for _attempt in range(600):
                    status, _, refresh, access = a.call("POST", "/auth/login", body={"username": name, "password": PASSWORD})
                    if status != 503:
                        break
                    time.sleep(0.1)
                assert status == 200 and refresh and access, status
                # B answers 503 when a store it reads (the user's row, on its first sight of the
                # user) is slower than DEPENDENCY_TIMEOUT_MS under the load: asked again.
                for _attempt in range(100):
                    status = b.call("GET", "/auth/me", token=access)[0]
                    if status != 503:
                        break
                    unavailable += 1
                    time.sleep(0.05)
                assert status == 200, status
                before = revocation_counts(b)
                # A 503 (Redis slower than DEPENDENCY_TIMEOUT_MS under the load) is retried, as a
                # client would: the retry publishes the revocation even if the first attempt ended
                # the session. The sample starts at the 200.
                for _attempt in range(100):
                    status = a.call("POST", "/auth/logout", cookie=refresh)[0]
                    if status != 503:
                        break
                    time.sleep(0.05)
                ended = time.perf_counter()
                assert status == 200, status
                while True:
                    status, code, _, _ = b.call("GET", "/auth/me", token=access)
                    if (status, code) == (401, "SESSION_REVOKED"):
                        delays.append((time.perf_counter() - ended) * 1000)
                        break
                    # A 503 neither accepts the token nor tells the revocation: asked again.
                    if status == 503:
                        unavailable += 1
                    else:
                        assert status == 200, (status, code)
                    if time.perf_counter() - ended > GIVE_UP_S:
                        raise RuntimeError(f"replica B still accepts a revoked token after {GIVE_UP_S} s (sample {len(delays) + 1});\n"
                                           f"the end of replica A's log:\n{a.tail()}the end of replica B's log:\n{b.tail()}")
                # How B learned of a slow one: from the channel (and how late the message reached
                # B's listener), from a resubscription's replay, or from a heartbeat's read of the
                # record.
                if delays[-1] > SLOW_MS:
                    after = revocation_counts(b)
                    learned = {k: after[k] - before.get(k, 0) for k in after}
                    slow.append({"sample": len(delays), "ms": delays[-1], **learned})
                    log(f"   sample {len(delays)}: {delays[-1]:.0f} ms; replica B meanwhile: {learned}")
        finally:
            for proc, _ in loads:
                proc.terminate()
                proc.wait()
            b.stop()
        delays.sort()
        pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
        result = {"samples": len(delays), "p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": delays[-1],
                  "load_connections_per_replica": connections, "seconds": time.perf_counter() - started,
                  "unavailable_answers": unavailable, "slow_samples": slow}
        self.results["propagation"] = result
        log(f"   propagation: p50 {result['p50_ms']:.2f} ms p99 {result['p99_ms']:.2f} ms max {result['max_ms']:.2f} ms over {len(delays)}"
            f" ({unavailable} answers 503 from B, asked again)")

    # --- goals -----------------------------------------------------------------------------

    def judge(self):
        s, b = self.results["scenarios"], self.results["baselines"]
        goals = self.results["goals"]

        def goal(name, measured, target, ok, unit=""):
            goals.append({"goal": name, "measured": measured, "target": target, "pass": bool(ok), "unit": unit})

        # The ratios to a baseline: medians over the rounds, each round's against its own baseline.
        me, jwks = s["me"]["ratio_to_ping"], s["jwks"]["ratio_to_ping"]
        goal("/auth/me req/s ÷ ping req/s", me["rps"], "≥ 0.90", me["rps"] >= 0.90)
        goal("JWKS req/s ÷ ping req/s", jwks["rps"], "≥ 0.80", jwks["rps"] >= 0.80)
        goal("/auth/me p99 ÷ ping p99", me["p99_ms"], "≤ 2", me["p99_ms"] <= 2)
        if "redis" in b:
            refresh = s["refresh"]["ratio_to_ceiling"]["rps"]
            goal("refresh req/s ÷ Redis rotations/s", refresh, "≥ 0.50", refresh >= 0.50)
        login, ceiling = s["login"], b["argon2"]["ceiling_per_s"]
        ratio = login["ratio_to_ceiling"]["rps"]
        goal("login req/s ÷ Argon2 ceiling", ratio, "≥ 0.90", ratio >= 0.90)
        little = 1.5 * login["connections"] / ceiling * 1000
        goal("login p99 (ms) vs 1.5 × 64 ÷ ceiling", login["p99_ms"], f"≤ {little:.0f}", login["p99_ms"] <= little)
        to_alone = s["storm_me"]["ratio_to_alone"]
        goal("storm: /auth/me req/s ÷ alone (32 conns)", to_alone["rps"], "≥ 0.50", to_alone["rps"] >= 0.50)
        goal("storm: /auth/me p99 ÷ alone (32 conns)", to_alone["p99_ms"], "≤ 3", to_alone["p99_ms"] <= 3)
        storm = s["storm_me"]
        timeouts = storm["timeouts"] + s["storm_login"]["timeouts"]
        goal("storm: timeouts", timeouts, "= 0", timeouts == 0)
        threads, m_kib = b["argon2"]["threads"], b["argon2"]["argon2"]["m_kib"]
        budget = threads * m_kib * 1024 + 64 * MIB
        goal("storm: peak RSS (MiB)", storm["peak_rss_bytes"] / MIB, f"≤ {budget / MIB:.0f}", storm["peak_rss_bytes"] <= budget)
        # The forgot floor is a timer, not work: 64 connections each answered after the floor.
        forgot, floor_s = s["forgot"], FORGOT_FLOOR_MS / 1000
        goal("forgot req/s ÷ (64 ÷ floor)", forgot["rps"] * floor_s / forgot["connections"], "≥ 0.80",
             forgot["rps"] >= 0.8 * forgot["connections"] / floor_s)
        goal("forgot p99 (ms) vs 2 × floor", forgot["p99_ms"], f"≤ {2 * FORGOT_FLOOR_MS}", forgot["p99_ms"] <= 2 * FORGOT_FLOOR_MS)
        if "propagation" in self.results:
            p99 = self.results["propagation"]["p99_ms"]
            goal("revocation propagation A to B p99 (ms), under /auth/me load", p99, "≤ 50", p99 <= 50)
        startup = self.results["startup_s"]["median"]
        goal("start-up to ready (s)", startup, "≤ 0.5", startup <= 0.5)

    # --- report ----------------------------------------------------------------------------

    def report(self):
        def cpu(c):
            return f"{c['gatehouse']:.0f} / {c['redis']:.0f} / {c['wrk']:.0f} / {c['other']:.0f}"

        def medians(x):
            return f" (median of {len(x['rounds'])} rounds)" if len(x.get("rounds", ())) > 1 else ""

        r, s, b = self.results, self.results["scenarios"], self.results["baselines"]
        lines = [f"gatehouse benchmark: {r['backend']}, {r['settings']}", ""]
        lines += ["| scenario | connections | requests/s | p50 ms | p99 ms | errors | peak RSS MiB | CPU µs/req: gatehouse / Redis / wrk / other |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        names = {"ping": "`GET /` (ping)", "jwks": "`GET /.well-known/jwks.json`", "me": "`GET /auth/me`", "me_32": "`GET /auth/me`", "refresh": "`POST /auth/refresh`",
                 "login": "`POST /auth/login`", "storm_login": "storm: `POST /auth/login`", "storm_me": "storm: `GET /auth/me`",
                 "forgot": "`POST /auth/password/forgot` (unknown addresses)"}
        for key, x in s.items():
            lines.append(f"| {names[key]}{medians(x)} | {x['connections']} | {x['rps']:.0f} | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} | "
                         f"{x['errors']} | {x['peak_rss_bytes'] / MIB:.0f} | {cpu(x['cpu_us_per_request'])} |")
        if "redis" in b:
            x = b["redis"]
            how = "redis-benchmark --cluster, every primary" if x["deployment"] == "cluster" else "redis-benchmark"
            # WAIT is the service's, after the script: the ceiling never waits for a replica.
            if self.redis.wait_replicas:
                how += ", no WAIT"
            lines.append(f"| Redis ceiling: rotate script ({how}){medians(x)} | {x['connections']} | {x['rps']:.0f} | {x['p50_ms']:.2f} | "
                         f"{x['p99_ms']:.2f} | | | |")
        if "propagation" in r:
            x = r["propagation"]
            lines.append(f"| revocation propagation A → B ({x['samples']} logouts, `/auth/me` load on both) | "
                         f"{x['load_connections_per_replica']} + {x['load_connections_per_replica']} | | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} | | | |")
        a = b["argon2"]
        lines.append(f"| Argon2 ceiling: {a['threads']} hasher threads, t_hash {a['t_hash_s'] * 1000:.1f} ms "
                     f"(alone {a['t_hash_single_s'] * 1000:.1f} ms){medians(a)} | {a['threads']} | {a['ceiling_per_s']:.1f} | | | | | |")
        lines += ["", "| goal | measured | target | result |", "|---|---:|---|---|"]
        for g in r["goals"]:
            verdict = "not judged (smoke)" if self.args.smoke else ("pass" if g["pass"] else "FAIL")
            lines.append(f"| {g['goal']} | {g['measured']:.2f} | {g['target']} | {verdict} |")
        return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="2 s per scenario, few users: checks the harness, judges nothing")
    p.add_argument("--embedded", action="store_true", help="the embedded backend (SQLite, in-memory token store)")
    p.add_argument("--redis", choices=list(DEPLOYMENTS), default="node",
                   help="the Redis deployment: node = the machine's Redis at REDIS_URL (default); cluster = 3 primaries + "
                        "3 replicas, sentinel = a primary + a replica behind 3 Sentinels, both started here on loopback "
                        "(scripts/redis-topology) and stopped at exit")
    p.add_argument("--wait-replicas", type=int, default=0, metavar="N",
                   help="REDIS_WAIT_REPLICAS for the service: each session change waits for N replicas (Redis WAIT); "
                        "for cluster and sentinel, which have one replica per primary")
    p.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    p.add_argument("--users", type=int, default=256, help="users seeded (at least twice the connections)")
    p.add_argument("--out", default=os.path.join(ROOT, "artifacts", "bench"), help="where the JSON and Markdown results go")
    args = p.parse_args()
    if args.embedded and (args.redis != "node" or args.wait_replicas):
        p.error("--redis and --wait-replicas apply to the PostgreSQL + Redis backend, not --embedded")
    if args.wait_replicas < 0:
        p.error("--wait-replicas must be 0 or more")
    if args.smoke:
        args.duration, args.users = 2, 160
    cleanup = Cleanup()
    # SIGTERM and SIGHUP unwind like Ctrl-C, so the cleanup runs.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        bench = Bench(args, cleanup)
        backend = "embedded (SQLite + in-memory token store)" if args.embedded else f"PostgreSQL + {bench.redis.describe()}"
        threads = os.environ.get("HASHER_THREADS", "cores")
        bench.results.update(
            backend=backend,
            settings=f"Argon2id m=19456 KiB t=2 p=1, HASHER_THREADS={threads}, {os.cpu_count()} cores, "
                     f"{args.duration:g} s per scenario (those judged against a baseline: "
                     + ("1 round" if args.smoke else f"{ROUNDS} rounds") + f" of {max(2, round(args.duration * ROUND_SHARE))} s, "
                     "interleaved with the baseline's), wrk --timeout 10s",
            started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            smoke=args.smoke,
            load_at_start=os.getloadavg(),
        )
        if not args.embedded:
            bench.results["redis"] = {"deployment": args.redis, "wait_replicas": args.wait_replicas}
        bench.run()
        table = bench.report()
        print(table)
        os.makedirs(args.out, exist_ok=True)
        # One file per deployment and wait, so that runs on several sit side by side.
        name = "embedded" if args.embedded else "postgres-redis" + ("" if args.redis == "node" else "-" + args.redis) + \
            (f"-wait{args.wait_replicas}" if args.wait_replicas else "")
        with open(os.path.join(args.out, f"{name}.json"), "w") as f:
            json.dump(bench.results, f, indent=2)
        with open(os.path.join(args.out, f"{name}.md"), "w") as f:
            f.write(table)
        log(f"raw results: {os.path.join(args.out, name + '.json')}")
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        cleanup.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
