#!/usr/bin/env python3
"""The driver of scripts/bench (which installs the tools and builds the release binary first).

Starts its own gatehouse on a free loopback port, against its own PostgreSQL database and Redis
key prefix (or the embedded backend), seeds users through the API, runs each scenario with wrk
for a bounded time, measures the baselines in the same run, and prints the Markdown tables.
Everything it starts is stopped, and everything it creates removed, on any exit.
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
ROTATE_LUA = os.path.join(ROOT, "src", "actors", "token_store", "rotate.lua")
PASSWORD = "bench-" + secrets.token_hex(8)
MIB = 1024 * 1024
# OWASP's Argon2id minimum, whatever the caller's environment says: the benchmark measures the
# production cost.
ARGON2 = {"ARGON2_M_KIB": "19456", "ARGON2_T": "2", "ARGON2_P": "1"}
THROTTLE_OFF_LIMIT = "1000000000"
# Users whose access tokens the bearer scenarios present (no login of the run touches them).
BEARERS = 16
# The forgot route's answer floor the service runs with (its default).
FORGOT_FLOOR_MS = 250


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
    def __init__(self, url):
        host, port, password, db = url_parts(url)
        self.args = ["-h", host, "-p", str(port or 6379)]
        if password:
            self.args += ["-a", urllib.parse.unquote(password), "--no-auth-warning"]
        self.db = ["-n", db] if db else []
        self.local = host in ("127.0.0.1", "localhost", "::1")

    def cli(self, *cmd, stdin=None):
        out = subprocess.run(["redis-cli", *self.args, *self.db, *cmd], input=stdin, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def pid(self):
        if not self.local:
            return None
        m = re.search(r"process_id:(\d+)", self.cli("INFO", "server"))
        return int(m.group(1)) if m and os.path.exists(f"/proc/{m.group(1)}/stat") else None

    def delete_prefix(self, prefix):
        keys = self.cli("--scan", "--pattern", prefix + "*").split()
        for i in range(0, len(keys), 500):
            self.cli("UNLINK", *keys[i : i + 500])


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
        self.redis = None if args.embedded else Redis(os.environ["REDIS_URL"])
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
            env.update(DATABASE_URL=pg.url, REDIS_URL=os.environ["REDIS_URL"], REDIS_KEY_PREFIX=self.prefix)
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
        log(f"== seeding {n} users (and {BEARERS} for the bearer scenarios) through POST /auth/register")
        groups = [(self.users_file, [f"bench_{i:05d}" for i in range(n)]), (self.bearers_file, [f"bench_me_{i:02d}" for i in range(BEARERS)])]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for path, names in groups:
                rows = pool.map(self.gh.register, names)
                with open(path, "w") as f:
                    f.writelines(f"{name} {access} {refresh}\n" for name, access, refresh in rows)

    def users_for(self, script):
        return self.bearers_file if script == "me.lua" else self.users_file

    # --- baselines -------------------------------------------------------------------------

    def argon2_ceiling(self):
        log("== Argon2's ceiling (the service's hasher, alone)")
        env = dict(self.gh.env)
        out = subprocess.run([CEILING, str(max(2.0, self.seconds / 2))], env=env, capture_output=True, text=True, check=True)
        ceiling = json.loads(out.stdout)
        self.results["baselines"]["argon2"] = ceiling
        log(f"   t_hash {ceiling['t_hash_s'] * 1000:.1f} ms, ceiling {ceiling['ceiling_per_s']:.1f}/s")

    def redis_ceiling(self, connections=64):
        """redis-benchmark running the rotate script itself, each call doing a real rotation
        (the presented hash is the current one and stays current), at the same concurrency."""
        log("== Redis's ceiling (redis-benchmark, the rotate script, one call per request)")
        with open(ROTATE_LUA) as f:
            sha = self.redis.cli("SCRIPT", "LOAD", f.read())
        keys = 10_000
        pfx = self.prefix + "rb:"
        h = "ab" * 32
        # One session per user hash, in the store's layout: `{u:<n>}:sessions`, field `fam`.
        seed = "local t = redis.call('TIME') local now = t[1] * 1000 " \
               "for i = 0, tonumber(ARGV[1]) - 1 do local k = KEYS[1] .. '{u:' .. string.format('%012d', i) .. '}:sessions' " \
               "redis.call('HSET', k, 'fam', cjson.encode({uid = '00000000-0000-0000-0000-000000000000', cur = ARGV[2], " \
               "created = now, seen = now, exp = now + 600000})) " \
               "redis.call('PEXPIRE', k, 600000) end return 1"
        self.redis.cli("EVAL", seed, "1", pfx, str(keys), h)
        call = ["EVALSHA", sha, "2", pfx + "{u:__rand_int__}:sessions", pfx + "live", "fam", h, h, "cd" * 32, "600000", "10000", "1"]

        def run(n):
            cmd = ["redis-benchmark", *self.redis.args, *self.redis.db, "-c", str(connections), "-n", str(n), "-r", str(keys), "--csv", *call]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            row = next(r for r in csv.DictReader(io.StringIO(out)) if r.get("rps"))
            return row

        probe = run(5_000)
        n = max(10_000, int(float(probe["rps"]) * self.seconds))
        row = run(n)
        result = {
            "connections": connections,
            "requests": n,
            "rps": float(row["rps"]),
            "p50_ms": float(row["p50_latency_ms"]),
            "p99_ms": float(row["p99_latency_ms"]),
            "command": " ".join(["redis-benchmark", "-c", str(connections), "-n", str(n), "-r", str(keys), *call]),
        }
        self.results["baselines"]["redis"] = result
        log(f"   {result['rps']:.0f} rotations/s, p99 {result['p99_ms']:.2f} ms")

    # --- scenarios -------------------------------------------------------------------------

    def scenario(self, name, runs, label=None):
        """Runs `runs` ([(key, script, path, connections)]) at once; records each."""
        load = os.getloadavg()[0]
        log(f"== {label or name} (load {load:.2f})")
        redis_pid = self.redis.pid() if self.redis else None
        reset_peak_rss(self.gh.pid)
        cpu_before = cpu_seconds(self.gh.pid), cpu_seconds(redis_pid), machine_cpu_seconds()
        procs = [(key, conns, run_wrk(script, self.gh.base + path, conns, self.seconds, self.users_for(script), threads=1 if len(runs) > 1 else None))
                 for key, script, path, conns in runs]
        results = [(key, conns, wrk_result(p)) for key, conns, p in procs]
        cpu_after = cpu_seconds(self.gh.pid), cpu_seconds(redis_pid), machine_cpu_seconds()
        peak = status_kib(self.gh.pid, "VmHWM") * 1024
        total = sum(r["requests"] for _, _, r in results) or 1
        # Where the machine's CPU went, per request: gatehouse, Redis, the load generator, and
        # everything else running meanwhile (PostgreSQL, other processes).
        gatehouse = cpu_after[0] - cpu_before[0]
        redis = cpu_after[1] - cpu_before[1] if redis_pid else 0.0
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
            self.results["scenarios"][key] = r
            log(f"   {key}: {r['rps']:.0f}/s p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms errors {r['errors']}")

    def run(self):
        self.start_service()
        self.seed()
        self.scenario("ping", [("ping", "ping.lua", "/", 64)], "GET / (the framework's ceiling)")
        self.scenario("jwks", [("jwks", "ping.lua", "/.well-known/jwks.json", 64)], "GET /.well-known/jwks.json (pre-rendered)")
        self.scenario("me", [("me", "me.lua", "/auth/me", 64)], "GET /auth/me")
        self.scenario("me_32", [("me_32", "me.lua", "/auth/me", 32)], "GET /auth/me, 32 connections (the storm's reference)")
        if self.redis:
            self.redis_ceiling()
        self.scenario("refresh", [("refresh", "refresh.lua", "/auth/refresh", 64)], "POST /auth/refresh")
        self.argon2_ceiling()
        self.scenario("login", [("login", "login.lua", "/auth/login", 64)], "POST /auth/login")
        self.scenario("storm", [("storm_login", "login.lua", "/auth/login", 32), ("storm_me", "me.lua", "/auth/me", 32)],
                      "login storm (32) + GET /auth/me (32)")
        self.scenario("forgot", [("forgot", "forgot.lua", "/auth/password/forgot", 64)], "POST /auth/password/forgot (unknown addresses)")
        if self.redis:
            self.propagation()
        self.judge()

    def propagation(self, connections=16):
        """Revocation across replicas: a second replica over the same stores; while wrk runs
        /auth/me on both, a user logs in on A, B sees the token, the user logs out on A, and B is
        polled until it answers 401 SESSION_REVOKED. The time from A's 200 to B's first 401 is one
        sample; 200 samples (20 in a smoke run)."""
        n = 20 if self.args.smoke else 200
        log(f"== revocation propagation, replica A to replica B ({n} logouts, GET /auth/me load on both)")
        env = dict(self.gh.env, PORT=str(free_port()), METRICS_ADDR=f"127.0.0.1:{free_port()}")
        b = Gatehouse(env, self.workdir)
        b.log_path = os.path.join(self.workdir, "gatehouse-b.log")
        self.cleanup.add("replica B", b.stop)
        b.start()
        a = self.gh
        name = "bench_propagation"
        status, _, _, _ = a.call("POST", "/auth/register", body={"username": name, "password": PASSWORD})
        assert status == 201, status
        # Enough load for every sample: a login costs one Argon2 verification.
        seconds = max(self.seconds, int(n * 0.15) + 5)
        loads = [run_wrk("me.lua", g.base + "/auth/me", connections, seconds, self.bearers_file, threads=1) for g in (a, b)]
        delays, started = [], time.perf_counter()
        try:
            for _ in range(n):
                # The storm before may still fill the hasher's queue: a shed login (503) waits.
                for _attempt in range(600):
                    status, _, refresh, access = a.call("POST", "/auth/login", body={"username": name, "password": PASSWORD})
                    if status != 503:
                        break
                    time.sleep(0.1)
                assert status == 200 and refresh and access, status
                assert b.call("GET", "/auth/me", token=access)[0] == 200
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
                    assert status == 200, (status, code)
                    if time.perf_counter() - ended > 5:
                        raise RuntimeError("replica B still accepts a revoked token after 5 s")
        finally:
            for proc, _ in loads:
                proc.terminate()
                proc.wait()
            b.stop()
        delays.sort()
        pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
        result = {"samples": len(delays), "p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": delays[-1],
                  "load_connections_per_replica": connections, "seconds": time.perf_counter() - started}
        self.results["propagation"] = result
        log(f"   propagation: p50 {result['p50_ms']:.2f} ms p99 {result['p99_ms']:.2f} ms max {result['max_ms']:.2f} ms over {len(delays)}")

    # --- goals -----------------------------------------------------------------------------

    def judge(self):
        s, b = self.results["scenarios"], self.results["baselines"]
        goals = self.results["goals"]

        def goal(name, measured, target, ok, unit=""):
            goals.append({"goal": name, "measured": measured, "target": target, "pass": bool(ok), "unit": unit})

        ping, me = s["ping"], s["me"]
        goal("/auth/me req/s ÷ ping req/s", me["rps"] / ping["rps"], "≥ 0.90", me["rps"] >= 0.90 * ping["rps"])
        goal("JWKS req/s ÷ ping req/s", s["jwks"]["rps"] / ping["rps"], "≥ 0.80", s["jwks"]["rps"] >= 0.80 * ping["rps"])
        goal("/auth/me p99 ÷ ping p99", me["p99_ms"] / ping["p99_ms"], "≤ 2", me["p99_ms"] <= 2 * ping["p99_ms"])
        if "redis" in b:
            goal("refresh req/s ÷ Redis rotations/s", s["refresh"]["rps"] / b["redis"]["rps"], "≥ 0.50",
                 s["refresh"]["rps"] >= 0.5 * b["redis"]["rps"])
        ceiling = b["argon2"]["ceiling_per_s"]
        login = s["login"]
        goal("login req/s ÷ Argon2 ceiling", login["rps"] / ceiling, "≥ 0.90", login["rps"] >= 0.90 * ceiling)
        little = 1.5 * login["connections"] / ceiling * 1000
        goal("login p99 (ms) vs 1.5 × 64 ÷ ceiling", login["p99_ms"], f"≤ {little:.0f}", login["p99_ms"] <= little)
        storm, alone = s["storm_me"], s["me_32"]
        goal("storm: /auth/me req/s ÷ alone (32 conns)", storm["rps"] / alone["rps"], "≥ 0.50", storm["rps"] >= 0.5 * alone["rps"])
        goal("storm: /auth/me p99 ÷ alone (32 conns)", storm["p99_ms"] / alone["p99_ms"], "≤ 3", storm["p99_ms"] <= 3 * alone["p99_ms"])
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

        r, s, b = self.results, self.results["scenarios"], self.results["baselines"]
        lines = [f"gatehouse benchmark: {r['backend']}, {r['settings']}", ""]
        lines += ["| scenario | connections | requests/s | p50 ms | p99 ms | errors | peak RSS MiB | CPU µs/req: gatehouse / Redis / wrk / other |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        names = {"ping": "`GET /` (ping)", "jwks": "`GET /.well-known/jwks.json`", "me": "`GET /auth/me`", "me_32": "`GET /auth/me`", "refresh": "`POST /auth/refresh`",
                 "login": "`POST /auth/login`", "storm_login": "storm: `POST /auth/login`", "storm_me": "storm: `GET /auth/me`",
                 "forgot": "`POST /auth/password/forgot` (unknown addresses)"}
        for key, x in s.items():
            lines.append(f"| {names[key]} | {x['connections']} | {x['rps']:.0f} | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} | "
                         f"{x['errors']} | {x['peak_rss_bytes'] / MIB:.0f} | {cpu(x['cpu_us_per_request'])} |")
        if "redis" in b:
            x = b["redis"]
            lines.append(f"| Redis ceiling: rotate script (redis-benchmark) | {x['connections']} | {x['rps']:.0f} | {x['p50_ms']:.2f} | "
                         f"{x['p99_ms']:.2f} | | | |")
        if "propagation" in r:
            x = r["propagation"]
            lines.append(f"| revocation propagation A → B ({x['samples']} logouts, `/auth/me` load on both) | "
                         f"{x['load_connections_per_replica']} + {x['load_connections_per_replica']} | | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} | | | |")
        a = b["argon2"]
        lines.append(f"| Argon2 ceiling: {a['threads']} hasher threads, t_hash {a['t_hash_s'] * 1000:.1f} ms "
                     f"(alone {a['t_hash_single_s'] * 1000:.1f} ms) | {a['threads']} | {a['ceiling_per_s']:.1f} | | | | | |")
        lines += ["", "| goal | measured | target | result |", "|---|---:|---|---|"]
        for g in r["goals"]:
            verdict = "not judged (smoke)" if self.args.smoke else ("pass" if g["pass"] else "FAIL")
            lines.append(f"| {g['goal']} | {g['measured']:.2f} | {g['target']} | {verdict} |")
        return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--smoke", action="store_true", help="2 s per scenario, few users: checks the harness, judges nothing")
    p.add_argument("--embedded", action="store_true", help="the embedded backend (SQLite, in-memory token store)")
    p.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    p.add_argument("--users", type=int, default=256, help="users seeded (at least twice the connections)")
    p.add_argument("--out", default=os.path.join(ROOT, "artifacts", "bench"), help="where the JSON and Markdown results go")
    args = p.parse_args()
    if args.smoke:
        args.duration, args.users = 2, 160
    cleanup = Cleanup()
    # SIGTERM and SIGHUP unwind like Ctrl-C, so the cleanup runs.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        bench = Bench(args, cleanup)
        backend = "embedded (SQLite + in-memory token store)" if args.embedded else "PostgreSQL + Redis"
        threads = os.environ.get("HASHER_THREADS", "cores")
        bench.results.update(
            backend=backend,
            settings=f"Argon2id m=19456 KiB t=2 p=1, HASHER_THREADS={threads}, {os.cpu_count()} cores, "
                     f"{args.duration:g} s per scenario, wrk --timeout 10s",
            started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            smoke=args.smoke,
            load_at_start=os.getloadavg(),
        )
        bench.run()
        table = bench.report()
        print(table)
        os.makedirs(args.out, exist_ok=True)
        name = "embedded" if args.embedded else "postgres-redis"
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
