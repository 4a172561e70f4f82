from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack

import structlog
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Every request gets an id (the proxy's X-Request-ID when sane), in each log line of
    the request and in the Celery tasks it publishes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]  # our attribute, read by logs
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        response["X-Request-ID"] = request_id
        return response


class NoStoreMiddleware:
    """Pages and API answers carry personal data: no cache (a browser's, a proxy's) keeps
    them. Static files are served before this (whitenoise, with their own long max-age);
    a view that set its own Cache-Control keeps it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True, private=True)
        return response


class ServerTimingMiddleware:
    """`Server-Timing: cpu;dur=…, db;dur=…;desc="N"` on every answer when SERVER_TIMING is on:
    the worker's CPU time for the request, the time spent in SQL and the number of
    statements. The day benchmark reads it per request kind; in production it shows the same
    figures in the browser's developer tools (it names no data, only durations)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        statements = 0
        sql_seconds = 0.0

        def timed(execute, sql, params, many, context):
            nonlocal statements, sql_seconds
            start = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                statements += 1
                sql_seconds += time.perf_counter() - start

        cpu_start = time.thread_time()
        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(timed))
            response = self.get_response(request)
        cpu_ms = 1000 * (time.thread_time() - cpu_start)
        response["Server-Timing"] = (
            f'cpu;dur={cpu_ms:.2f}, db;dur={1000 * sql_seconds:.2f};desc="{statements}"'
        )
        return response
