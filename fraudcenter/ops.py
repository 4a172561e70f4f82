"""Operations endpoints: liveness, readiness and Prometheus metrics.

/healthz  — the process answers and reaches the database and the broker (load balancer).
/readyz   — the same plus the SMS backlog: the age of the oldest due reminder nobody sent.
/metrics  — Prometheus text; only with METRICS_TOKEN (Bearer) or from METRICS_ALLOWED_IPS.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from kombu import Connection
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

HTTP_REQUESTS = Counter(
    "fraudcenter_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "fraudcenter_http_request_duration_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CASES_OPENED = Counter("fraudcenter_cases_opened_total", "Cases opened", ["channel"])


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_broker() -> None:
    url = settings.CELERY_BROKER_URL
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    with Connection(url, transport_options=options, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _run_checks(checks: dict[str, Callable[[], None]]) -> dict[str, str]:
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception:  # noqa: BLE001 - any failure means "not healthy"; no details leaked
            results[name] = "error"
    return results


def sms_backlog() -> tuple[int, float]:
    """(due reminders not yet sent, age in seconds of the oldest one)."""
    from reminders.models import Reminder

    now = timezone.now()
    row = Reminder.objects.filter(status=Reminder.Status.SCHEDULED, send_after__lte=now).aggregate(
        n=Count("id"), oldest=Min("send_after")
    )
    age = (now - row["oldest"]).total_seconds() if row["oldest"] else 0.0
    return row["n"], age


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachable: 200; otherwise 503 with what failed."""
    checks = _run_checks({"database": _check_database, "broker": _check_broker})
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "error", **checks}, status=200 if ok else 503)


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """healthz plus the SMS backlog: due reminders older than SMS_BACKLOG_MAX_AGE mean the
    dispatcher (beat or workers) is not doing its job — 503, so that monitoring pages someone."""
    checks = _run_checks({"database": _check_database, "broker": _check_broker})
    body: dict = {**checks}
    ok = all(v == "ok" for v in checks.values())
    if checks["database"] == "ok":
        due, age = sms_backlog()
        lagging = age > settings.SMS_BACKLOG_MAX_AGE
        body["sms_backlog"] = {"due": due, "oldest_age_seconds": round(age, 1)}
        body["sms"] = "lagging" if lagging else "ok"
        ok = ok and not lagging
    body["status"] = "ok" if ok else "error"
    return JsonResponse(body, status=200 if ok else 503)


class DatabaseCollector:
    """Figures read from the database at scrape time (one process answers for all)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from cases.models import OPEN_STATUSES, Case
        from reminders.models import Reminder

        due, age = sms_backlog()
        yield GaugeMetricFamily(
            "fraudcenter_sms_dispatch_lag_seconds", "Age of the oldest due unsent SMS", value=age
        )
        yield GaugeMetricFamily("fraudcenter_sms_due", "Due SMS not yet sent", value=due)
        since = timezone.now() - timedelta(hours=24)
        yield _by_status(
            "fraudcenter_sms_last_24h",
            "SMS created in the last 24 h by status",
            Reminder.objects.filter(created_at__gte=since),
        )
        yield _by_status(
            "fraudcenter_cases_open",
            "Open cases by status",
            Case.objects.filter(status__in=OPEN_STATUSES),
        )


def _by_status(name: str, documentation: str, queryset) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["status"])
    for status, n in queryset.values_list("status").annotate(n=Count("id")).order_by():
        family.add_metric([status], n)
    return family


def _metrics_allowed(request: HttpRequest) -> bool:
    """The Bearer token when one is set; else an address of METRICS_ALLOWED_IPS; else nobody.

    Behind the reverse proxy every request comes from the proxy's address: the client is
    then the address the proxy reports (the last X-Forwarded-For hop), and only a proxy of
    METRICS_TRUSTED_PROXIES is believed."""
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    return bool(settings.METRICS_ALLOWED_IPS) and client_address(request) in (
        settings.METRICS_ALLOWED_IPS
    )


def client_address(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and remote in settings.METRICS_TRUSTED_PROXIES:
        return forwarded.split(",")[-1].strip()
    return remote


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not _metrics_allowed(request):
        return HttpResponse(status=403)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several gunicorn workers: each writes its counters to files; this reads them all.
        process_registry = CollectorRegistry()
        MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    database_registry = CollectorRegistry()
    database_registry.register(DatabaseCollector())
    body = generate_latest(process_registry) + generate_latest(database_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts requests and their latency by route pattern (never the path: it may hold ids)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match else "unmatched"
        HTTP_LATENCY.labels(route).observe(time.perf_counter() - start)
        HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response
