#!/usr/bin/env python3
"""Asserts, through Prometheus's HTTP API, that gatehouse is scraped and its metrics have samples.

    check_prometheus.py PROMETHEUS_URL DASHBOARD_JSON

Waits (bounded) for the `gatehouse` target to be up, for the listed series to have samples and
for every rule to evaluate healthily; then checks each metric the Grafana dashboard queries.
"""
import json
import re
import sys
import time
import urllib.parse
import urllib.request

PROM, DASHBOARD = sys.argv[1], sys.argv[2]

# Each selector must have at least one sample; where a minimum is given, its summed value too
# (the scripted traffic before this check produced those events).
EXPECTED = [
    ('up{job="gatehouse"}', 1),
    ('gatehouse_build_info', 1),
    ('gatehouse_http_requests_total{route="/auth/login",method="POST",status="2xx"}', 1),
    ('gatehouse_http_requests_total{status="4xx"}', 1),
    ('gatehouse_http_request_duration_seconds_bucket{route="/auth/refresh"}', None),
    ('gatehouse_http_requests_in_flight', None),
    ('gatehouse_logins_total{outcome="success"}', 1),
    ('gatehouse_logins_total{outcome="failure"}', 1),
    ('gatehouse_registrations_total{outcome="success"}', 1),
    ('gatehouse_registrations_total{outcome="conflict"}', 1),
    ('gatehouse_refreshes_total{outcome="rotated"}', 1),
    ('gatehouse_refreshes_total{outcome="grace"}', 1),
    ('gatehouse_refreshes_total{outcome="reused"}', 1),
    ('gatehouse_refreshes_total{outcome="invalid"}', 1),
    ('gatehouse_refreshes_total{outcome="missing"}', 1),
    ('gatehouse_logouts_total{outcome="success"}', 1),
    ('gatehouse_argon2_duration_seconds_count{operation="hash"}', 1),
    ('gatehouse_argon2_duration_seconds_count{operation="verify"}', 1),
    ('gatehouse_argon2_duration_seconds_bucket', None),
    ('gatehouse_hasher_queue_depth', None),
    ('gatehouse_hasher_busy_threads', None),
    ('gatehouse_hasher_threads', 1),
    ('gatehouse_store_operation_duration_seconds_count{store="token_store"}', 1),
    ('gatehouse_store_operation_duration_seconds_count{store="user_repo"}', 1),
    ('gatehouse_store_errors_total', None),
    ('gatehouse_pool_connections{pool="postgres"}', None),
    ('gatehouse_pool_connections{pool="redis"}', None),
    ('gatehouse_pool_max_connections', 1),
    ('gatehouse_dependency_up{dependency="database"}', 1),
    ('gatehouse_dependency_up{dependency="token_store"}', 1),
    ('gatehouse_refresh_tokens_live', 1),
    ('process_resident_memory_bytes{job="gatehouse"}', 1),
    ('process_cpu_seconds_total{job="gatehouse"}', None),
    ('process_open_fds{job="gatehouse"}', 1),
]


def query(expr):
    url = f"{PROM}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return body["data"]["result"]


def total(expr):
    result = query(expr)
    return (len(result), sum(float(r["value"][1]) for r in result))


def failures():
    out = []
    for selector, minimum in EXPECTED:
        count, value = total(selector)
        if count == 0:
            out.append(f"{selector}: no samples")
        elif minimum is not None and value < minimum:
            out.append(f"{selector}: {value} < {minimum}")
    with urllib.request.urlopen(f"{PROM}/api/v1/rules", timeout=5) as resp:
        groups = json.load(resp)["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    if not rules:
        out.append("no rules loaded")
    for r in rules:
        if r.get("health") != "ok":
            out.append(f"rule {r['name']}: health {r.get('health')} {r.get('lastError', '')}")
    return out


def dashboard_metrics():
    exprs = []

    def walk(v):
        if isinstance(v, dict):
            if isinstance(v.get("expr"), str):
                exprs.append(v["expr"])
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(json.load(open(DASHBOARD)))
    names = set()
    for e in exprs:
        names.update(t for t in re.split(r"[^A-Za-z0-9_:]", e) if t.startswith(("gatehouse_", "process_")))
    return sorted(names)


deadline = time.time() + 60
while True:
    problems = failures()
    if not problems or time.time() > deadline:
        break
    time.sleep(2)
for name in dashboard_metrics():
    if total(name)[0] == 0:
        problems.append(f"dashboard queries {name}: no samples")
if problems:
    print("Prometheus checks failed:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"Prometheus: target up, {len(EXPECTED)} series have samples, every rule healthy, "
      f"{len(dashboard_metrics())} dashboard metrics present")
