"""Server-Timing (fraudcenter.middleware.ServerTimingMiddleware, SERVER_TIMING=1): the
worker's CPU time, the time in SQL and the number of statements of each answer."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext


def test_it_names_the_cpu_the_sql_time_and_every_statement(client, specialist, settings):
    settings.MIDDLEWARE = ["fraudcenter.middleware.ServerTimingMiddleware", *settings.MIDDLEWARE]
    client.force_login(specialist)
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/cases/mine/")
    found = re.fullmatch(
        r'cpu;dur=([\d.]+), db;dur=([\d.]+);desc="(\d+)"', response["Server-Timing"]
    )
    assert found, response["Server-Timing"]
    assert int(found.group(3)) == len(captured.captured_queries) > 0
    assert float(found.group(1)) > 0


def test_it_is_off_by_default(client, specialist):
    client.force_login(specialist)
    assert not client.get("/cases/mine/").has_header("Server-Timing")
