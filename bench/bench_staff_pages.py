"""Staff pages at scale: median response time and SQL queries per page.

Run against a database filled with `manage.py seed_demo --cases 1000000`:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fraudcenter \
        .venv/bin/python bench/bench_staff_pages.py [--repeat 15]

Uses Django's test client in-process (no network), so the figures are the view + template +
database time a real request spends, without the web server."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudcenter.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from cases.models import Case, CaseIdentifier  # noqa: E402
from cases.selectors import _cursor_encode  # noqa: E402


def measure(client: Client, url: str, repeat: int) -> tuple[float, float, float, int]:
    """(median total ms, max total ms, median SQL ms, queries)."""
    client.get(url)  # warm the caches the way a working day would
    times, sql = [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
    return statistics.median(times), max(times), statistics.median(sql), len(queries)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    total = Case.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    supervisor = User.objects.get(username="supervisor")
    specialist = User.objects.get(username="specialist1")
    sample = Case.objects.order_by("pk")[total // 2 : total // 2 + 1].get()
    old = Case.objects.filter(created_at__lt=sample.created_at).order_by("-created_at", "-id")[0]
    busy_identifier = (
        CaseIdentifier.objects.values_list("identifier_id", flat=True).order_by("id").first()
    )
    category = sample.category_id
    pages = [
        ("all cases, first page", "/cases/"),
        ("open cases of one category", f"/cases/?status=open&category={category}"),
        ("a page a year deep (keyset)", f"/cases/?after={_cursor_encode(old)}"),
        ("text search, rare word «кредит»", "/cases/?q=кредит"),
        ("text search, word in 1 case of 9 «Госуслуг»", "/cases/?q=Госуслуг"),
        ("by phone", f"/cases/?phone={sample.subscriber.msisdn}"),
        ("by number", f"/cases/?number={sample.number}"),
        ("by scammer identifier", f"/cases/?identifier={busy_identifier}"),
        ("period: last 7 days, chat", "/cases/?period=7d&channel=chat"),
        ("queue board", "/queue/"),
        ("case page", f"/cases/{sample.pk}/"),
        ("subscriber card (htmx)", f"/cases/subscriber-card/?phone={sample.subscriber.msisdn}"),
    ]
    print(f"cases in the database: ~{total:,}; repeat {args.repeat}; {connection.vendor}")
    print("| page | median, ms | max, ms | of which SQL, ms | SQL queries |")
    print("|---|---:|---:|---:|---:|")
    sup, spec = Client(), Client()
    sup.force_login(supervisor)
    spec.force_login(specialist)
    for name, url in pages:
        median, worst, sql, queries = measure(sup, url, args.repeat)
        print(f"| {name} | {median:.0f} | {worst:.0f} | {sql:.0f} | {queries} |")
    median, worst, sql, queries = measure(spec, "/cases/mine/", args.repeat)
    print(f"| my cases (specialist) | {median:.0f} | {worst:.0f} | {sql:.0f} | {queries} |")


if __name__ == "__main__":
    main()
