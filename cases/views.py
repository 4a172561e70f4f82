from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from kombu import Connection

from .models import Case
from .roles import user_roles


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    url = settings.CELERY_BROKER_URL
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    with Connection(url, transport_options=options, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachable: 200; otherwise 503 with what failed (no details leaked)."""
    checks = {}
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            checks[name] = check()
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            checks[name] = "error"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "error", **checks}, status=200 if ok else 503)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    roles = user_roles(request.user)
    recent = []
    if roles:
        recent = list(Case.objects.for_list()[:10])
    return render(request, "cases/home.html", {"recent": recent})
