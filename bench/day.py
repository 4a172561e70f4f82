"""`make bench-day`: a center's working hour on one box, raised step by step.

    .venv/bin/python bench/day.py [--size 1000000] [--steps 500,1000,...] [--step-seconds 60]
                                  [--peer] [--smoke]

The box runs what production runs (deploy/gunicorn.conf.py: four sync workers on two cores,
a Celery worker, PostgreSQL, Redis as cache and broker) plus the test chat backend that gets
the replies, and locust (bench/day_locustfile.py: the model and its sources) on the same two
cores. Each step runs that many simulated specialists (with their supervisors and managers)
for --step-seconds after they have all started; the run stops at the first step where the
p99 of any request kind passes 200 ms or a request fails. Then a case opening alone under wrk
(as `make bench` and the peer measure creation) gives CPU per case opened, and with --peer,
../shared/bench/peer's django-helpdesk run (our copy in bench/peer/) gives its figures.

Prints and writes to bench/out/day-<time>/summary.md: the largest number of specialists
served, per request kind p50/p99, req/s, the web worker's CPU ms (Server-Timing) and SQL
statements, and CPU ms per request of the whole box (server, database, worker) per step.
Asserts nothing about time: figures go to bench/RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from cpu import backends, children, cpu_seconds, tree_cpu_seconds  # noqa: E402

VENV = Path(os.environ.get("VENV", ROOT / ".venv"))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
P99_LIMIT_MS = 200
MIN_SAMPLES = 50  # requests of one kind in a step for its p99 to count in the ramp's rule
CHAT_SECRET = "whsec_ZnJhdWRjZW50ZXItZGVtby1jaGF0LXNlY3JldC0zMmI="  # the test backend's only


def sh(*argv: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, env=env, cwd=ROOT, **kw)


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310  # loopback only
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


class Box:
    """The server side: gunicorn, a Celery worker, the test chat backend."""

    def __init__(self, out: Path, env: dict[str, str], port: int, chat_port: int) -> None:
        self.out, self.env, self.port, self.chat_port = out, env, port, chat_port
        self.push_port = port + 1
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        self._spawn(
            "chat",
            [
                str(VENV / "bin/python"),
                "manage.py",
                "chat_test_backend",
                "--port",
                str(self.chat_port),
                "--secret",
                CHAT_SECRET,
            ],
        )
        self._spawn(
            "worker",
            [
                str(VENV / "bin/celery"),
                "-A",
                "fraudcenter",
                "worker",
                "--pool=solo",
                "--loglevel=WARNING",
            ],
        )
        self._spawn(
            "push",
            [str(VENV / "bin/python"), "manage.py", "push_server", "--port", str(self.push_port)],
        )
        self._spawn(
            "web", [str(VENV / "bin/gunicorn"), "-c", "deploy/gunicorn.conf.py", "fraudcenter.wsgi"]
        )
        wait_http(f"http://127.0.0.1:{self.port}/healthz")

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.out / f"{name}.log", "w")  # noqa: SIM115  # kept open with the process
        self.procs[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def pids(self) -> list[int]:
        pids = []
        for proc in self.procs.values():
            pids += [proc.pid, *children(proc.pid)]
        return pids

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def machine_ticks() -> tuple[int, int, int]:
    """(all, stolen, idle) CPU ticks of the machine: a hypervisor that takes the CPU away
    stalls every request in flight at once, and shows here, not in the box's own CPU time."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[7] if len(fields) > 7 else 0, fields[3] + fields[4]


def box_cpu_parts(box: Box, db: str) -> dict[str, float]:
    """CPU seconds so far of the web server, the Celery worker and the database's backends."""
    parts = {name: tree_cpu_seconds(proc.pid) for name, proc in box.procs.items()}
    parts["database"] = sum(cpu_seconds(p) for p in backends(db))
    return parts


def num(value: str) -> float:
    return float(value) if value not in ("", "N/A") else 0.0


def read_stats(prefix: Path) -> tuple[list[dict[str, str]], dict[str, str]]:
    with open(f"{prefix}_stats.csv") as f:
        rows = list(csv.DictReader(f))
    total = next(row for row in rows if row["Name"] == "Aggregated")
    return [row for row in rows if row["Name"] != "Aggregated"], total


def run_step(
    args, box: Box, db: str, out: Path, env: dict[str, str], day: dict, specialists: int
) -> dict:
    # The locustfile's weights: 1,500 specialists : 100 supervisors : 15 managers.
    users = round(specialists * 1615 / 1500)
    prefix = out / f"step-{specialists}"
    timings = out / f"timings-{specialists}.json"
    # Fresh in-progress cases for the users who join a contact midway (each step its own).
    per_account = -(-specialists // len(day["specialists"])) + 1
    sh(str(VENV / "bin/python"), str(HERE / "day_prepare.py"), str(args.size), str(out),
       "--pool", str(per_account), "--tag", str(specialists), env=env)  # fmt: skip
    # People start their shift over minutes, not all in one second: 20 a second. Faster, the
    # first pages of a thousand arrivals queue up for most of the warm-up and their backlog
    # (seconds) still drained in the measured minute (seen at 1,000: 107 a second).
    spawn_seconds = max(5, min(150, users // 20))
    t0 = time.monotonic()
    locust = subprocess.Popen(
        [
            str(VENV / "bin/locust"),
            "-f",
            str(HERE / "day_locustfile.py"),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(max(1, users // spawn_seconds)),
            "-t",
            f"{spawn_seconds + args.warmup + args.step_seconds}s",
            "--only-summary",
            "--host",
            f"http://127.0.0.1:{args.port}",
            "--csv",
            str(prefix),
            "--stop-timeout",
            "2",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env={
            **env,
            "DAY_TIMINGS": str(timings),
            "DAY_WARMUP_SECONDS": str(args.warmup),
            "DAY_POOL": str(out / f"pool-{specialists}.json"),
        },
        stdout=open(out / f"locust-{specialists}.log", "w"),  # noqa: SIM115  # closed on exit
        stderr=subprocess.STDOUT,
    )
    # CPU of the box over the measured part only (after everybody started).
    time.sleep(spawn_seconds + args.warmup)
    parts_before = box_cpu_parts(box, db)
    before_box = sum(parts_before.values())
    ticks_before = machine_ticks()
    locust_before = sum(cpu_seconds(p) for p in [locust.pid, *children(locust.pid)])
    time.sleep(args.step_seconds)
    parts_after = box_cpu_parts(box, db)
    after_box = sum(parts_after.values())
    ticks_after = machine_ticks()
    locust_after = sum(cpu_seconds(p) for p in [locust.pid, *children(locust.pid)])
    locust.wait()
    wall = time.monotonic() - t0
    rows, total_row = read_stats(prefix)
    measured = json.loads(timings.read_text()) if timings.exists() else {}
    kinds = []
    for row in rows:
        if row["Name"].startswith("setup"):
            continue
        t = measured.get(row["Name"], [])
        kinds.append(
            {
                "name": row["Name"],
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": num(row["Requests/s"]),
                "p50": num(row["50%"]),
                "p99": num(row["99%"]),
                "max": num(row["Max Response Time"]),
                "cpu_ms": statistics.median(x[0] for x in t) if t else None,
                "sql": statistics.median(x[2] for x in t) if t else None,
                "sql_max": max(x[2] for x in t) if t else None,
            }
        )
    total = sum(k["requests"] for k in kinds)
    return {
        "specialists": specialists,
        "users": users,
        "wall": wall,
        "kinds": kinds,
        "requests": total,
        "rps": sum(k["rps"] for k in kinds),
        "failures": sum(k["failures"] for k in kinds),
        # A kind's p99 means something with enough requests; a rarer kind's (a manager's
        # report, a few a minute) is its maximum, shown apart and kept out of the ramp's rule.
        "p99_all": num(total_row["99%"]),
        "worst_p99": max(
            [num(total_row["99%"])] + [k["p99"] for k in kinds if k["requests"] >= MIN_SAMPLES]
        ),
        "worst_kind": max(
            (k for k in kinds if k["requests"] >= MIN_SAMPLES),
            key=lambda k: k["p99"],
            default={"name": "—"},
        )["name"],
        "worst_rare": max(
            (k for k in kinds if k["requests"] < MIN_SAMPLES),
            key=lambda k: k["max"],
            default={"name": "—", "max": 0},
        ),
        "box_cpu_ms": 1000 * (after_box - before_box) / max(total, 1),
        "box_cpu_ms_by_part": {
            name: 1000 * (parts_after[name] - parts_before.get(name, 0)) / max(total, 1)
            for name in parts_after
        },
        "steal": (ticks_after[1] - ticks_before[1]) / max(ticks_after[0] - ticks_before[0], 1),
        "machine_busy": 1
        - (ticks_after[2] - ticks_before[2]) / max(ticks_after[0] - ticks_before[0], 1),
        "box_cpu_share": (after_box - before_box) / args.step_seconds / (os.cpu_count() or 1),
        "locust_cpu_share": (locust_after - locust_before)
        / args.step_seconds
        / (os.cpu_count() or 1),
    }


def wrk_create(box: Box, db: str, port: int, day: dict, seconds: int) -> dict:
    """Case opening alone through the API, as the peer's ticket creation is measured."""
    before = box_cpu_parts(box, db)
    env = {
        **os.environ,
        "LUA_DIR": str(HERE / "peer" / "lua"),  # report.lua, as ../shared/bench/lua has it
        "BENCH_NAME": "api_create",
        "TOKEN": day["api_token"],
        "BENCH_RUN": str(int(time.time())),
        "KNOWN_SUBSCRIBERS": str(day["known_subscribers"]),
    }
    line = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c8",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(HERE / "lua/create_case.lua"),
            f"http://127.0.0.1:{port}/api/v1/cases/",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    after = box_cpu_parts(box, db)
    result = next((ln for ln in line.splitlines() if ln.startswith("RESULT ")), None)
    if result is None:
        raise SystemExit(f"wrk printed no RESULT line:\n{line}")
    fields = dict(kv.split("=", 1) for kv in result.split()[1:])
    requests = int(fields["requests"])
    return {
        "rps": float(fields["rps"]),
        "p50": float(fields["p50_ms"]),
        "p99": float(fields["p99_ms"]),
        "requests": requests,
        "cpu_ms": 1000 * (sum(after.values()) - sum(before.values())) / max(requests, 1),
        # Where it goes: web, database, worker (the push server and chat backend: ~0).
        "cpu_ms_by_part": {
            name: 1000 * (after[name] - before.get(name, 0.0)) / max(requests, 1) for name in after
        },
    }


def run_peer(out: Path) -> dict | None:
    env = {**os.environ, "PEER_STATE_DIR": str(out / "peer"), "FRESH_VENV": "0"}
    for knob in ("PEER_REPEAT", "PEER_DURATION", "PEER_TICKETS"):
        if os.environ.get(knob):
            env[knob] = os.environ[knob]
    log = out / "peer.log"
    with open(log, "w") as f:
        subprocess.run(
            ["bash", str(HERE / "peer/run.sh")],
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
            check=True,
        )
    for line in log.read_text().splitlines():
        if line.startswith("SUMMARY_JSON="):
            return json.loads(Path(line.split("=", 1)[1]).read_text())
    return None


def fmt(value, spec: str = ".1f") -> str:
    return "—" if value is None else format(value, spec)


def report(
    steps: list[dict], served: int, create: dict | None, peer: dict | None, meta: dict
) -> str:
    lines = [f"# Day run: {meta['cases']:,} cases, {meta['when']}", ""]
    lines += [f"Machine: {meta['machine']}", ""]
    lines += [
        f"| specialists | users | req/s | failures | p99 all ms | worst p99 ms (kinds ≥ "
        f"{MIN_SAMPLES}) | rarer kinds' slowest (max ms) | box CPU ms/req | box CPU "
        "| locust CPU | machine busy | stolen |",
        "|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for s in steps:
        rare = s["worst_rare"]
        lines.append(
            f"| {s['specialists']:,} | {s['users']:,} | {s['rps']:.1f} | {s['failures']} "
            f"| {s['p99_all']:.0f} | {s['worst_p99']:.0f} ({s['worst_kind']}) "
            f"| {rare['name']}: {rare['max']:.0f} "
            f"| {s['box_cpu_ms']:.2f} | {100 * s['box_cpu_share']:.0f} % "
            f"| {100 * s['locust_cpu_share']:.0f} % | {100 * s.get('machine_busy', 0):.0f} % "
            f"| {100 * s.get('steal', 0):.1f} % |"
        )
    lines += ["", "Box CPU ms per request by part:", ""]
    for s in steps:
        parts = s.get("box_cpu_ms_by_part", {})
        lines.append(
            f"- {s['specialists']:,}: " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
        )
    lines += [
        "",
        f"**Largest number of specialists served** (p99 of all requests and of every kind with "
        f"at least {MIN_SAMPLES} requests in the step under {P99_LIMIT_MS} ms, no failure): "
        f"**{served:,}**",
        "",
    ]
    shown = [s for s in steps if s["specialists"] == served] or steps[:1]
    for s in shown + ([steps[-1]] if steps and steps[-1] is not shown[0] else []):
        lines += [
            f"### {s['specialists']:,} specialists",
            "",
            "| request | count | req/s | p50 ms | p99 ms | max ms | web CPU ms "
            "| SQL (median, max) | failures |",
            "|---|---:|---:|---:|---:|---:|---:|---|---:|",
        ]
        for k in sorted(s["kinds"], key=lambda k: -k["rps"]):
            lines.append(
                f"| {k['name']} | {k['requests']} | {k['rps']:.1f} | {k['p50']:.0f} "
                f"| {k['p99']:.0f} "
                f"| {k['max']:.0f} | {fmt(k['cpu_ms'], '.2f')} "
                f"| {fmt(k['sql'], '.0f')}, {fmt(k['sql_max'], '.0f')} | {k['failures']} |"
            )
        lines.append("")
    if create:
        lines += [
            "### Opening a case alone (wrk -t2 -c8, API with token and Idempotency-Key)",
            "",
            f"{create['rps']:.1f} req/s, p50 {create['p50']:.1f} ms, p99 {create['p99']:.1f} ms, "
            f"**{create['cpu_ms']:.2f} CPU ms** per case (web + database + worker: "
            + ", ".join(f"{k} {v:.1f}" for k, v in create.get("cpu_ms_by_part", {}).items())
            + ")",
            "",
        ]
    if peer:
        lines += peer_table(peer, create, steps, served)
    return "\n".join(lines) + "\n"


def peer_table(peer: dict, create: dict | None, steps: list[dict], served: int) -> list[str]:
    # Our figures at the largest step served, else at the first step measured.
    step = next((s for s in steps if s["specialists"] == served), steps[0] if steps else None)

    def ours(name: str) -> dict | None:
        return next((k for k in step["kinds"] if k["name"] == name), None) if step else None

    lines = [
        "### Beside django-helpdesk (bench/peer, same machine, same run)",
        "",
        "| figure | ours | peer | ours ÷ peer |",
        "|---|---:|---:|---:|",
    ]
    pc = peer.get("a_api_create_ticket", {})
    if create and pc:
        lines.append(
            f"| API creation, CPU ms per request | {create['cpu_ms']:.2f} | {pc['cpu_ms']:.2f} "
            f"| {create['cpu_ms'] / pc['cpu_ms']:.2f} |"
        )
        lines.append(
            f"| API creation, req/s (wrk -c8) | {create['rps']:.1f} | {pc['rps']:.1f} "
            f"| {create['rps'] / pc['rps']:.2f} |"
        )
        lines.append(
            f"| API creation, p99 ms | {create['p99']:.1f} | {pc['p99_ms']:.1f} "
            f"| {create['p99'] / pc['p99_ms']:.2f} |"
        )
    for peer_name, our_name in (
        ("b2_staff_html_list", "page: case list (filter)"),
        ("b3_staff_datatables_json", "page: my cases"),
    ):
        p, o = peer.get(peer_name), ours(our_name)
        if p and o:
            lines.append(
                f"| staff list ({our_name} / {peer_name}), p50 ms | {o['p50']:.0f} "
                f"| {p['p50_ms']:.0f} | {o['p50'] / max(p['p50_ms'], 0.1):.3f} |"
            )
    pl = next((v for k, v in peer.items() if k.startswith("b1_api_list")), None)
    if pl:
        lines.append(f"| peer's API ticket list (c1), p50 ms | — | {pl['p50_ms']:.0f} | — |")
    labels = {"b2_staff_html_list": "peer's staff list",
              "b3_staff_datatables_json": "peer's list data (DataTables)"}  # fmt: skip
    for peer_name, label in labels.items():
        if peer_name in peer:
            p = peer[peer_name]
            lines.append(f"| {label}: p50 / p99 ms, CPU ms | — | {p['p50_ms']:.0f} / "
                         f"{p['p99_ms']:.0f}, {p['cpu_ms']:.1f} | — |")  # fmt: skip
    for floor in ("d_floor_plain_django_create", "d2_floor_drf_token_create"):
        if floor in peer:
            lines.append(
                f"| floor {floor}, CPU ms per request | — | {peer[floor]['cpu_ms']:.2f} | — |"
            )
    return [*lines, ""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--steps", default="250,500,1000,2000,3000,4000,5000,6000")
    ap.add_argument("--step-seconds", type=int, default=60)
    ap.add_argument("--create-seconds", type=int, default=15)
    ap.add_argument("--peer", action="store_true")
    ap.add_argument(
        "--warmup", type=int, default=30, help="seconds after everybody started, not counted"
    )
    ap.add_argument("--smoke", action="store_true", help="10,000 cases, one short step (CI)")
    ap.add_argument("--port", type=int, default=8111)
    ap.add_argument("--chat-port", type=int, default=8125)
    args = ap.parse_args()
    if args.smoke:
        args.size, args.steps, args.step_seconds, args.create_seconds = 10_000, "50", 15, 3
        args.warmup = 5
    out = HERE / "out" / f"day-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    db = f"fc_bench_{args.size}"
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    exists = subprocess.run(
        ["psql", f"{PG}/postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{db}'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        sh("psql", "-q", f"{PG}/postgres", "-c", f"CREATE DATABASE {db}")
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{db}",
        "PRODUCTION": "0",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),  # INFO: task and request timings
        "CACHE_URL": os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/7"),
        "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/8"),
        "API_INTEGRATION_THROTTLE_RATE": "1000000/min",
        "SERVER_TIMING": "1",
        "GUNICORN_BIND": f"127.0.0.1:{args.port}",
        "CHAT_WEBHOOK_URL": f"http://127.0.0.1:{args.chat_port}/chat/",
        "CHAT_WEBHOOK_SECRET": CHAT_SECRET,
        "DAY_JSON": str(out / "day.json"),
        "PYTHONUNBUFFERED": "1",
        # Server push (deliveries/push.py) unless BENCH_PUSH=0 (then the pages poll).
        **(
            {
                "PUSH_URL": f"http://127.0.0.1:{args.port + 1}/push/",
                "PUSH_REDIS_URL": "redis://127.0.0.1:6379/9",
            }
            if os.environ.get("BENCH_PUSH", "1") == "1"
            else {"PUSH_URL": "", "PUSH_REDIS_URL": ""}
        ),
    }
    print(f"== preparing {db} ({args.size:,} cases) → {out}", flush=True)
    # One account per simulated person at the largest step (the locustfile's weights).
    most = max(int(x) for x in args.steps.split(","))
    sh(str(VENV / "bin/python"), str(HERE / "day_prepare.py"), str(args.size), str(out),
       "--specialists", str(most), "--supervisors", str(-(-most * 100 // 1500)),
       "--managers", str(-(-most * 15 // 1500)), env=env)  # fmt: skip
    sh(str(VENV / "bin/python"), "manage.py", "collectstatic", "--noinput", "-v0", env=env)
    day = json.loads((out / "day.json").read_text())
    box = Box(out, env, args.port, args.chat_port)
    steps: list[dict] = []
    served = 0
    create = None
    try:
        box.start()
        # First, on a quiet box, as the peer's creation is measured: after the steps the
        # worker's and the database's leftovers (SMS, deliveries, autovacuum) would be
        # counted against it.
        print("== opening cases alone (wrk)", flush=True)
        create = wrk_create(box, db, args.port, day, args.create_seconds)
        for n in [int(s) for s in args.steps.split(",") if s]:
            print(f"== {n:,} specialists for {args.step_seconds} s", flush=True)
            step = run_step(args, box, db, out, env, day, n)
            steps.append(step)
            print(
                f"   {step['rps']:.1f} req/s, worst p99 {step['worst_p99']:.0f} ms, "
                f"failures {step['failures']}, box CPU {100 * step['box_cpu_share']:.0f} %",
                flush=True,
            )
            if step["worst_p99"] > P99_LIMIT_MS or step["failures"]:
                if args.smoke and step["failures"]:
                    raise SystemExit(f"{step['failures']} requests failed: {out}")
                break
            served = n
    finally:
        box.stop()
    peer = run_peer(out) if args.peer else None
    pg_version = subprocess.run(
        ["psql", f"{PG}/postgres", "-tAc", "show server_version"], capture_output=True, text=True
    ).stdout.strip()
    cpu_model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "?",
    )
    machine = (
        f"{os.cpu_count()} cores ({cpu_model}), PostgreSQL {pg_version}, locust on the same box"
    )
    meta = {"cases": day["cases"], "when": time.strftime("%Y-%m-%d %H:%M"), "machine": machine}
    text = report(steps, served, create, peer, meta)
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(
        json.dumps({"served": served, "steps": steps, "create": create, "peer": peer}, indent=1)
    )
    print(text)
    if args.steps and (not steps or not steps[0]["requests"]):
        raise SystemExit("no request was measured")


if __name__ == "__main__":
    main()
