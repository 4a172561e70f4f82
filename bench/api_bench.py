"""API latency on a large database, in-process (full middleware stack, no network).

    DATABASE_URL=postgres://... python manage.py seed_demo --cases 1000000
    DATABASE_URL=postgres://... python bench/api_bench.py [--n 200]

Prints p50/p95/max per scenario and the SQL queries of one request. Creates cases
(marked external_id bench-...) in the database it runs against: never run it on production.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudcenter.settings")
os.environ.setdefault("API_INTEGRATION_THROTTLE_RATE", "1000000/min")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from knox.models import AuthToken  # noqa: E402

from cases.models import Case, Subscriber  # noqa: E402
from playbooks.models import Category  # noqa: E402


def timed(label: str, n: int, request) -> None:
    reset_queries()  # the debug log is capped at 9000 entries: start each count afresh
    with CaptureQueriesContext(connection) as queries:
        status = request(0)
    query_count = len(queries)
    samples = []
    for i in range(1, n + 1):
        start = time.perf_counter()
        status = request(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(f"| {label} | {status} | {query_count} | {statistics.median(samples):.1f} | "
          f"{p95:.1f} | {samples[-1]:.1f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    n = parser.parse_args().n
    user, _ = User.objects.get_or_create(username="bench-telephony")
    user.groups.add(Group.objects.get(name="integration"))
    _token, key = AuthToken.objects.create(user=user)
    staff = User.objects.filter(groups__name="supervisor").first()
    _t, staff_key = AuthToken.objects.create(user=staff)
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    staff_client = Client(HTTP_AUTHORIZATION=f"Token {staff_key}")
    category = Category.objects.filter(playbook__isnull=False).first()
    subscriber = Subscriber.objects.filter(cases__isnull=False).order_by("-id").first()
    case = Case.objects.order_by("-id").first()
    run = uuid.uuid4().hex[:8]
    print(f"cases in the database: ~{Case.objects.order_by('-id').first().pk}; n={n}\n")
    print("| request | status | SQL queries | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|")

    def create(i: int, replay: bool = False) -> int:
        body = {"channel": "hotline", "phone": f"+7999{i:07d}", "category": category.slug,
                "summary": "Звонили из банка", "external_id": f"bench-{run}-{i}",
                "code_disclosed": True}  # fmt: skip
        idempotency_key = f"bench-{run}-{0 if replay else i}"
        response = client.post("/api/v1/cases/", body, content_type="application/json",
                               HTTP_IDEMPOTENCY_KEY=idempotency_key)  # fmt: skip
        return response.status_code

    phone = str(subscriber.msisdn)
    timed(
        "GET lookup (subscriber with history)",
        n,
        lambda i: client.get("/api/v1/subscribers/lookup/", {"phone": phone}).status_code,
    )
    timed(
        "GET cases, first page (staff)", n, lambda i: staff_client.get("/api/v1/cases/").status_code
    )
    next_url = staff_client.get("/api/v1/cases/").json()["next"]
    timed(
        "GET cases, next page by cursor (staff)",
        n,
        lambda i: staff_client.get(next_url).status_code,
    )
    timed(
        "GET cases ?status=new&category= (staff)",
        n,
        lambda i: (
            staff_client.get(
                "/api/v1/cases/", {"status": "new", "category": category.slug}
            ).status_code
        ),
    )
    timed(
        "GET cases ?phone= (staff)",
        n,
        lambda i: staff_client.get("/api/v1/cases/", {"phone": phone}).status_code,
    )
    timed(
        "GET cases ?q=госуслуги (staff, full text)",
        n,
        lambda i: staff_client.get("/api/v1/cases/", {"q": "госуслуги"}).status_code,
    )
    timed(
        "GET case detail (staff)",
        n,
        lambda i: staff_client.get(f"/api/v1/cases/{case.pk}/").status_code,
    )
    timed("POST case (new key, new subscriber)", n, lambda i: create(i))
    timed("POST case replay (same key and body)", n, lambda i: create(0, replay=True))
    timed("GET cases, first page (integration: own cases)", n,
          lambda i: client.get("/api/v1/cases/").status_code)  # fmt: skip


if __name__ == "__main__":
    main()
