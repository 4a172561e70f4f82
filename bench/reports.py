"""Reports at scale: the page, each report query, and the CSV export's speed and memory.

Seed once (a few minutes), then run:

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/fc_reports_bench
    .venv/bin/python manage.py migrate && .venv/bin/python manage.py seed_demo --cases 1000000
    .venv/bin/python bench/reports.py [--runs 3] [--csv-days 365]

Prints Markdown tables (figures for bench/RESULTS.md)."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudcenter.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402

from cases.models import Case  # noqa: E402
from reports import selectors  # noqa: E402
from reports.exports import DEFAULT_COLUMNS  # noqa: E402
from reports.filters import ReportFilter, today_in_moscow  # noqa: E402

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE / 2**20


def timed(fn, runs: int) -> float:
    """Median wall time in ms over `runs` runs (after one warm-up)."""
    fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def periods() -> dict[str, ReportFilter]:
    today = today_in_moscow()
    return {
        "day": ReportFilter(today, today),
        "week": ReportFilter(today - timedelta(days=6), today),
        "month (30 days)": ReportFilter(today - timedelta(days=29), today),
    }


QUERIES = {
    "contacts by day (rollup)": selectors.contacts_by_day,
    "contacts by category (rollup)": selectors.contacts_by_category,
    "summary: additive part (rollup)": lambda f: selectors.summary(f, selectors.Speeds()),
    "speeds: median + p90 ×2, open overdue, per-specialist medians (live)": selectors.speeds_for,
    "top scammer numbers (live)": lambda f: selectors.top_identifiers(f, kind="phone"),
    "top sender names (live)": lambda f: selectors.top_identifiers(f, kind="sender"),
    "step completion (live)": selectors.step_completion,
    "SMS (live)": selectors.sms_summary,
    "specialists (rollup)": lambda f: selectors.specialists(f, selectors.Speeds()),
    "for reference: repeat victims live (EXISTS / LAG)": selectors.repeat_victims,
}


def bench_queries(runs: int) -> None:
    ps = periods()
    counts = {
        name: Case.objects.filter(f.case_q()).count() for name, f in ps.items()
    }  # for the table header only
    print("| query | " + " | ".join(f"{n} ({counts[n]:,} cases)" for n in ps) + " |")
    print("|---|" + "---:|" * len(ps))
    for qname, fn in QUERIES.items():
        cells = [f"{timed(lambda f=f, fn=fn: fn(f), runs):.0f} ms" for f in ps.values()]
        print(f"| {qname} | " + " | ".join(cells) + " |")
    # summary() and specialists() in a page share one speeds_for() query.


def bench_page(runs: int) -> None:
    client = Client()
    client.force_login(User.objects.get(username="manager"))
    today = today_in_moscow()
    print("| page | cases in period | queries | median time |")
    print("|---|---:|---:|---:|")
    for name, f in periods().items():
        url = f"/reports/?{f.querystring()}"
        executed = []
        with connection.execute_wrapper(
            lambda ex, sql, *a, executed=executed: executed.append(sql) or ex(sql, *a)
        ):
            assert client.get(url).status_code == 200
        n = Case.objects.filter(f.case_q()).count()
        ms = timed(lambda url=url: client.get(url), runs)
        print(f"| /reports/ {name} | {n:,} | {len(executed)} | {ms:.0f} ms |")
    del today


def bench_csv(days: int) -> None:
    client = Client()
    client.force_login(User.objects.get(username="manager"))
    today = today_in_moscow()
    print("| CSV export | rows | bytes | time | rows/s | RSS before | RSS peak |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for span in (30, days):
        f = ReportFilter(today - timedelta(days=span - 1), today)
        params = f.querystring() + "".join(f"&columns={c}" for c in DEFAULT_COLUMNS)
        peak = {"mb": rss_mb()}
        before = peak["mb"]
        stop = threading.Event()

        def sample(peak=peak, stop=stop) -> None:
            while not stop.is_set():
                peak["mb"] = max(peak["mb"], rss_mb())
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        response = client.get(f"/reports/export/cases.csv?{params}")
        size = lines = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - t0
        stop.set()
        sampler.join()
        rows = lines - 1
        print(
            f"| last {span} days | {rows:,} | {size / 2**20:.0f} MB | {elapsed:.1f} s | "
            f"{rows / elapsed:,.0f} | {before:.0f} MB | {peak['mb']:.0f} MB |"
        )
        reset_queries()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--csv-days", type=int, default=365)
    parser.add_argument("--only", choices=["queries", "page", "csv"])
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "run against PostgreSQL (DATABASE_URL)"
    print(f"cases in the database: {Case.objects.count():,}\n")
    if args.only in (None, "queries"):
        bench_queries(args.runs)
        print()
    if args.only in (None, "page"):
        bench_page(args.runs)
        print()
    if args.only in (None, "csv"):
        bench_csv(args.csv_days)


if __name__ == "__main__":
    main()
