"""Summary of one peer run: summary.md (stdout) and summary.json.

    python summarize.py RESULTS_TXT QUERIES_JSON SUMMARY_JSON > summary.md

Reads the RESULT lines of results.txt (lua/report.lua and loadgen.py, with the
cpu_ms=... that run.sh appends) and queries.json (count_queries.py).

summary.json maps each run name without its #repeat suffix, in log order, to
    {"tool", "repeats",
     "rps", "p50_ms", "p90_ms", "p99_ms", "cpu_ms"   (medians over repeats),
     "max_ms"                                          (max over repeats),
     "requests", "errors"                              (sums over repeats;
                                                        errors = non_ok + socket_errors),
     "queries", "queries_endpoint"}                    (SQL statements per request from
                                                        queries.json, null if no match)
Only stdlib; runs with any python3.
"""

import json
import statistics
import sys

# run name (without #repeat) -> count_queries.py endpoint name
QUERY_ENDPOINTS = {
    "a_api_create_ticket": "api_create_ticket",
    "b1_api_list": "api_list_queue1_status1",  # b1_api_list_c1, b1_api_list_c<CONC>
    "b2_staff_html_list": "staff_html_ticket_list_queue1_status1",
    "b3_staff_datatables_json": "staff_datatables_json_queue1_status1",
    "d_floor_plain_django_create": "floor_plain_django_create",
    "d2_floor_drf_token_create": "floor_drf_create_token",
}


def endpoint_for(name):
    if name in QUERY_ENDPOINTS:
        return QUERY_ENDPOINTS[name]
    if name.startswith("b1_api_list_c"):
        return QUERY_ENDPOINTS["b1_api_list"]
    return None


def num(r, k):
    v = r.get(k)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def median(g, k):
    vals = [v for v in (num(r, k) for r in g) if v is not None and v == v]  # drop None/NaN
    return round(statistics.median(vals), 3) if vals else None


def f(v, spec):
    return "—" if v is None else format(v, spec)


def main():
    log, qjson, out_json = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(log) as fh:
        rows = [
            dict(kv.split("=", 1) for kv in line.split()[1:])
            for line in fh
            if line.startswith("RESULT ")
        ]
    try:
        with open(qjson) as fh:
            queries = {q["name"]: q for q in json.load(fh)}
    except (OSError, ValueError):
        queries = {}
    groups = {}
    for r in rows:
        groups.setdefault(r["name"].split("#")[0], []).append(r)

    summary = {}
    for name, g in groups.items():
        ep = endpoint_for(name)
        q = queries.get(ep) if ep else None
        summary[name] = {
            "tool": g[0]["tool"],
            "repeats": len(g),
            "rps": median(g, "rps"),
            "p50_ms": median(g, "p50_ms"),
            "p90_ms": median(g, "p90_ms"),
            "p99_ms": median(g, "p99_ms"),
            "max_ms": max(
                (num(r, "max_ms") for r in g if num(r, "max_ms") is not None), default=None
            ),
            "cpu_ms": median(g, "cpu_ms"),
            "requests": sum(int(r["requests"]) for r in g),
            "errors": sum(int(r["non_ok"]) + int(r["socket_errors"]) for r in g),
            "queries": q["queries"] if q else None,
            "queries_endpoint": ep if q else None,
        }
    with open(out_json, "w") as fh:
        json.dump(summary, fh, indent=1)
        fh.write("\n")

    print("Median over repeats (wrk runs) / single run (loadgen.py runs). cpu ms/req = CPU of the")
    print("peer's gunicorn master + workers + its PostgreSQL backends, per request (../cpu.py).")
    print()
    print(
        "| run | tool | repeats | requests (sum) | non-2xx + sock err | req/s median (min-max) "
        "| p50 ms | p90 ms | p99 ms | max ms | cpu ms/req | SQL/req |"
    )
    print("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for name, g in groups.items():
        s = summary[name]
        rps = [float(r["rps"]) for r in g]
        print(
            f"| {name} | {s['tool']} | {s['repeats']} | {s['requests']} | {s['errors']} "
            f"| {statistics.median(rps):.2f} ({min(rps):.2f}-{max(rps):.2f}) "
            f"| {f(s['p50_ms'], '.1f')} "
            f"| {f(s['p90_ms'], '.1f')} | {f(s['p99_ms'], '.1f')} | {f(s['max_ms'], '.1f')} "
            f"| {f(s['cpu_ms'], '.2f')} | {f(s['queries'], 'd')} |"
        )
    print()
    print("Every run:")
    print()
    print(
        "| run | tool | requests | ok | non-2xx | sock err | req/s "
        "| p50 ms | p90 ms | p99 ms | max ms | cpu ms/req |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['name']} | {r['tool']} | {r['requests']} | {r['ok']} | {r['non_ok']} "
            f"| {r['socket_errors']} | {float(r['rps']):.2f} | {r['p50_ms']} | {r['p90_ms']} "
            f"| {r['p99_ms']} | {r['max_ms']} "
            f"| {r.get('cpu_ms', '—')} |"
        )
    print()
    print(
        "| endpoint: one request via the in-process test Client | HTTP | SQL queries "
        "| ms (steady state; API lists cold) |"
    )
    print("|---|---:|---:|---:|")
    for q in queries.values():
        print(f"| {q['name']} | {q['status']} | {q['queries']} | {q['in_process_ms']:.0f} |")


if __name__ == "__main__":
    main()
