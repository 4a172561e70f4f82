"""The scammer intelligence pages at scale: the review page, the feed (first page and deep
in), the waves block and the confirmed CSV, with SQL per request (issue 16).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fc_bench_1000000 \\
        .venv/bin/python bench/intel.py [--decisions 20000] [--repeats 20]

Needs a database seeded with `seed_demo --cases N`. Adds (once) decisions on the most
reported identifiers, so the feed has that many changes, and recounts reporters (the bulk
load bypasses the per-report counting). Requests go through Django's whole path in this
process (middleware, views, templates); it prints the median and p95 wall ms and the SQL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudcenter.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from knox.models import AuthToken  # noqa: E402

from cases.models import Case, CaseIdentifier, ScammerIdentifier  # noqa: E402
from cases.roles import Role  # noqa: E402
from intel.models import FeedEntry  # noqa: E402
from intel.services import identifier_decide, identifiers_recount  # noqa: E402


def _add_links(n: int) -> None:
    """Links between existing cases and identifiers, skewed like real reports (a few numbers
    reported by many subscribers), in one INSERT … SELECT."""
    if n <= 0:
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO cases_caseidentifier (case_id, identifier_id, created_at, raw)
            SELECT c.id, i.id, c.created_at, ''
              FROM (SELECT (SELECT min(id) FROM cases_case)
                           + floor(random() * (SELECT count(*) FROM cases_case))::bigint AS cid,
                           (SELECT min(id) FROM cases_scammeridentifier)
                           + floor(power(random(), 3)
                                   * (SELECT count(*) FROM cases_scammeridentifier))::bigint AS iid
                      FROM generate_series(1, %s)) g
              JOIN cases_case c ON c.id = g.cid
              JOIN cases_scammeridentifier i ON i.id = g.iid
            ON CONFLICT DO NOTHING
            """,
            [n],
        )
        added = cursor.rowcount
        cursor.execute("ANALYZE cases_caseidentifier")
    ScammerIdentifier.objects.update(candidate_since=None)  # recounted below
    print(f"{added:,} links added: {time.perf_counter() - started:.1f} s")


def _prepare(decisions: int) -> tuple[User, str]:
    supervisor = User.objects.filter(groups__name=Role.SUPERVISOR).first()
    assert supervisor, "seed the database with seed_demo first"
    feed_user, _ = User.objects.get_or_create(username="bench-feed")
    feed_user.groups.add(Group.objects.get(name=Role.BLOCKING))
    _instance, token = AuthToken.objects.create(user=feed_user)
    if not ScammerIdentifier.objects.filter(candidate_since__isnull=False).exists():
        started = time.perf_counter()
        n = identifiers_recount()
        print(f"recount of {n:,} identifiers: {time.perf_counter() - started:.1f} s")
    missing = decisions - FeedEntry.objects.count()
    if missing > 0:
        started = time.perf_counter()
        rows = ScammerIdentifier.objects.filter(verdict="").order_by("-reporters")[:missing]
        made = 0
        for n, identifier in enumerate(rows):
            verdict = "confirmed" if n % 4 else "rejected"
            identifier_decide(identifier=identifier, verdict=verdict, actor=supervisor)
            made += 1
        if made:
            print(f"{made:,} decisions: {time.perf_counter() - started:.1f} s")
    return supervisor, token


def _measure(client: Client, url: str, repeats: int, **headers: str) -> tuple[float, float, int]:
    times, queries = [], 0
    for _ in range(repeats):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, **headers)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code, body[:200])
        queries = len(captured)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--links", type=int, default=0)
    args = parser.parse_args()
    settings.ALLOWED_HOSTS = ["*"]
    _add_links(args.links)
    supervisor, token = _prepare(args.decisions)
    staff = Client()
    staff.force_login(supervisor)
    api = Client()
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    deep = FeedEntry.objects.order_by("pk").values_list("pk", flat=True)[
        max(FeedEntry.objects.count() - 600, 0)
    ]
    import base64

    cursor = base64.urlsafe_b64encode(f"f:{deep}".encode()).decode().rstrip("=")
    print(f"cases {Case.objects.count():,}, identifiers {ScammerIdentifier.objects.count():,}, "
          f"links {CaseIdentifier.objects.count():,}, "
          f"feed changes {FeedEntry.objects.count():,}")  # fmt: skip
    print(f"{'request':<42} {'p50 ms':>8} {'p95 ms':>8} {'SQL':>5}")
    for label, client, url, headers in [
        ("review page (supervisor)", staff, "/intel/review/", {}),
        ("review page, one kind", staff, "/intel/review/?kind=sender", {}),
        ("feed, first page (500)", api, "/api/v1/feed/identifiers/", auth),
        ("feed, near the end (cursor)", api, f"/api/v1/feed/identifiers/?cursor={cursor}", auth),
        ("waves block", staff, "/intel/waves/", {}),
    ]:
        p50, p95, sql = _measure(client, url, args.repeats, **headers)
        print(f"{label:<42} {p50:8.1f} {p95:8.1f} {sql:5d}")
    p50, p95, sql = _measure(staff, "/intel/confirmed.csv", 3)
    print(f"{'confirmed CSV (all, streamed)':<42} {p50:8.1f} {p95:8.1f} {sql:5d}")


if __name__ == "__main__":
    main()
