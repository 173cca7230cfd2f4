"""What a login costs beside Argon2, for two builds alternated in one run (see scripts/login-cost).

For each build in turn (the order reversed every other time, so a drift of the machine favours
neither): restart the service on that binary, measure Argon2's ceiling, then run the login
scenario, reading every thread's CPU time and voluntary context switches from /proc around it.
Per login it reports the machine's CPU time less the hasher threads' (the work beside Argon2:
gatehouse's other threads, Redis, PostgreSQL, wrk and the rest), the voluntary context switches
of gatehouse's threads beside the hashers (its wake-ups), and login ÷ the ceiling; then the
medians for each build.
"""

import argparse
import glob
import os
import statistics

import bench

TICK = os.sysconf("SC_CLK_TCK")
HASHER = "gatehouse-hash"  # the hasher threads' name, as /proc truncates it


def threads(pid):
    """{task: (name, CPU seconds, voluntary context switches)} for every thread of `pid`."""
    out = {}
    for stat in glob.glob(f"/proc/{pid}/task/*/stat"):
        try:
            with open(stat) as f:
                s = f.read()
            with open(stat[:-4] + "status") as f:
                status = f.read()
        except OSError:
            continue  # the thread ended meanwhile
        fields = s[s.rindex(")") + 2:].split()
        switches = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("voluntary_ctxt_switches"))
        out[stat] = (s[s.index("(") + 1:s.rindex(")")], (int(fields[11]) + int(fields[12])) / TICK, switches)
    return out


def measure(b, name):
    ceiling = b.argon2_ceiling()["argon2"]["ceiling_per_s"]
    b.gh.wait_idle()
    t0, m0 = threads(b.gh.pid), bench.machine_cpu_seconds()
    r = b.scenario("login", [("login", "login.lua", "/auth/login", 64)], f"POST /auth/login ({name})")["login"]
    t1, m1 = threads(b.gh.pid), bench.machine_cpu_seconds()
    both = [k for k in t1 if k in t0]
    hasher = sum(t1[k][1] - t0[k][1] for k in both if t1[k][0].startswith(HASHER))
    wakeups = sum(t1[k][2] - t0[k][2] for k in both if not t1[k][0].startswith(HASHER))
    n = r["requests"] or 1
    return {"beside_us": ((m1 - m0) - hasher) / n * 1e6, "hash_ms": hasher / n * 1e3, "wakeups": wakeups / n,
            "ratio": r["rps"] / ceiling}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("before", help="the gatehouse binary to compare against")
    p.add_argument("after", nargs="?", default=bench.BINARY, help="the binary under test (default: this checkout's release build)")
    p.add_argument("--times", type=int, default=6, help="measurements of each build")
    p.add_argument("--seconds", type=int, default=3, help="seconds of login (and of Argon2's ceiling) per measurement")
    args = p.parse_args()
    builds = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    harness = argparse.Namespace(smoke=False, embedded=False, redis="node", wait_replicas=0, duration=args.seconds, users=256,
                                 out=None)
    cleanup = bench.Cleanup()
    kept = {name: [] for name in builds}
    try:
        b = bench.Bench(harness, cleanup)
        b.redis.start(cleanup)
        bench.BINARY = builds["before"]
        b.start_service()
        b.seed()
        for i in range(args.times):
            for name in builds if i % 2 == 0 else reversed(builds):
                b.gh.stop()
                bench.BINARY = builds[name]
                b.gh.start()
                m = measure(b, name)
                kept[name].append(m)
                bench.log(f"   {name}: beside Argon2 {m['beside_us']:.0f} µs, hashing {m['hash_ms']:.2f} ms, "
                          f"{m['wakeups']:.1f} wake-ups per login; login ÷ ceiling {m['ratio']:.3f}")
    finally:
        cleanup.run()
    print("| build | CPU beside Argon2 per login (µs) | gatehouse wake-ups per login | login ÷ Argon2's ceiling |")
    print("|---|---:|---:|---:|")
    for name, ms in kept.items():
        med = {k: statistics.median(m[k] for m in ms) for k in ("beside_us", "wakeups", "ratio")}
        print(f"| {name} | {med['beside_us']:.0f} | {med['wakeups']:.1f} | {med['ratio']:.3f} |")


if __name__ == "__main__":
    main()
