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
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudcenter.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from cases.models import Case  # noqa: E402
from reports import rollup, selectors  # noqa: E402
from reports.exports import DEFAULT_COLUMNS  # noqa: E402
from reports.filters import MOSCOW, ReportFilter, today_in_moscow  # noqa: E402
from reports.models import RollupState  # noqa: E402

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


ANCHOR: date | None = None  # --anchor: the last day of every period (default: today)


def periods() -> dict[str, ReportFilter]:
    today = ANCHOR or today_in_moscow()
    return {
        "day": ReportFilter(today, today),
        "week": ReportFilter(today - timedelta(days=6), today),
        "month (30 days)": ReportFilter(today - timedelta(days=29), today),
    }


# Each query alone, given the live days (computed once per period, outside the timing).
QUERIES = {
    "live days (which days the rollups cannot answer)": lambda f, live: rollup.live_days(f),
    "figure rows: rollup + live days (by day, by category, summary, specialists)": (
        selectors.figure_rows
    ),
    "speeds: median + p90 ×2, per-specialist medians (duration rollup + live days), "
    "open overdue": selectors.speeds_for,
    "  before: the same from the period's cases (percentile_cont)": (
        lambda f, live: selectors.speeds_live(f)
    ),
    "top scammer numbers and sender names (identifier rollup + live days)": (
        selectors.top_identifiers_by_kind
    ),
    "  before: the same from the period's links and cases": (
        lambda f, live: selectors.top_identifiers_live_by_kind(f)
    ),
    "step completion (live)": lambda f, live: selectors.step_completion(f),
    "SMS (live)": lambda f, live: selectors.sms_summary(f),
    "the whole report_build() (6 queries)": lambda f, live: selectors.report_build(f),
}


def bench_queries(runs: int) -> None:
    ps = periods()
    counts = {
        name: Case.objects.filter(f.case_q()).count() for name, f in ps.items()
    }  # for the table header only
    lives = {name: rollup.live_days(f) for name, f in ps.items()}
    print("| query | " + " | ".join(f"{n} ({counts[n]:,} cases)" for n in ps) + " |")
    print("|---|" + "---:|" * len(ps))
    for qname, fn in QUERIES.items():
        cells = [
            f"{timed(lambda f=f, live=lives[n], fn=fn: fn(f, live), runs):.0f} ms"
            for n, f in ps.items()
        ]
        print(f"| {qname} | " + " | ".join(cells) + " |")


def bench_page(runs: int) -> None:
    """The page cold (the report cache emptied before every request) and repeated (a past
    period with no live day is then served from the cache)."""
    client = Client()
    client.force_login(User.objects.get(username="manager"))
    print("| page | cases in period | live days | queries (cold) | cold | repeated |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, f in periods().items():
        url = f"/reports/?{f.querystring()}"
        executed = []
        cache.clear()
        with connection.execute_wrapper(
            lambda ex, sql, *a, executed=executed: executed.append(sql) or ex(sql, *a)
        ):
            assert client.get(url).status_code == 200
        n = Case.objects.filter(f.case_q()).count()
        live = rollup.live_days(f).days
        cold = timed(lambda url=url: cache.clear() or client.get(url), runs)
        repeated = timed(lambda url=url: client.get(url), runs)
        print(
            f"| /reports/ {name} | {n:,} | {len(live) if live is not None else 'all'} | "
            f"{len(executed)} | {cold:.0f} ms | {repeated:.0f} ms |"
        )


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


@contextmanager
def live_from(day: date | None):
    """Run with the rollup watermark at the start of `day` (Moscow): that day and every day
    with a case changed since are counted live — the end-of-day worst case, when the
    whole day is still live. None: leave the watermark as the last refresh set it."""
    state = RollupState.objects.get(pk=1)
    saved = state.watermark
    if day is not None:
        RollupState.objects.filter(pk=1).update(
            watermark=datetime.combine(day, datetime.min.time(), tzinfo=MOSCOW)
        )
    try:
        yield
    finally:
        RollupState.objects.filter(pk=1).update(watermark=saved)


def bench_refresh(changes: int) -> None:
    """rollup_refresh() after `changes` cases of the last three days were saved again
    (updated_at only, the figures do not change), and with nothing changed."""
    rollup.rollup_refresh()
    last = (ANCHOR or today_in_moscow()) - timedelta(days=2)
    ids = list(
        Case.objects.filter(created_at__gte=datetime.combine(last, datetime.min.time(), MOSCOW))
        .order_by("?")
        .values_list("id", flat=True)[:changes]
    )
    Case.objects.filter(id__in=ids).update(updated_at=timezone.now())
    t0 = time.perf_counter()
    days = rollup.rollup_refresh()
    changed_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    rollup.rollup_refresh()
    idle_ms = (time.perf_counter() - t0) * 1000
    print("| rollup refresh | days recomputed | time |")
    print("|---|---:|---:|")
    print(f"| after {len(ids):,} cases changed | {days} | {changed_ms:.0f} ms |")
    print(f"| nothing changed since | – | {idle_ms:.0f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--csv-days", type=int, default=365)
    parser.add_argument("--only", choices=["queries", "page", "csv", "refresh"])
    parser.add_argument("--anchor", type=date.fromisoformat, help="last day of the periods")
    parser.add_argument(
        "--live-last-day", action="store_true", help="count the anchor day live (worst case)"
    )
    parser.add_argument("--changes", type=int, default=1000)
    args = parser.parse_args()
    global ANCHOR
    ANCHOR = args.anchor
    assert connection.vendor == "postgresql", "run against PostgreSQL (DATABASE_URL)"
    print(f"cases in the database: {Case.objects.count():,}\n")
    print(f"live days: {rollup.live_days(periods()['month (30 days)']).days}\n")
    live = (ANCHOR or today_in_moscow()) if args.live_last_day else None
    if args.only in (None, "queries"):
        with live_from(live):
            bench_queries(args.runs)
        print()
    if args.only in (None, "page"):
        with live_from(live):
            bench_page(args.runs)
        print()
    if args.only == "refresh":
        bench_refresh(args.changes)
    if args.only in (None, "csv"):
        bench_csv(args.csv_days)


if __name__ == "__main__":
    main()
