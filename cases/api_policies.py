"""API-wide policies named in settings.REST_FRAMEWORK: the error mapping and the throttle.

Kept apart from cases/api.py because DRF imports these while importing its APIView
(an import cycle otherwise)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from .idempotency import IdempotencyKeyInFlight
from .roles import Role, has_role
from .services import CaseConflict


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus: the services' Django errors become 400/403, a stale version 412."""
    if isinstance(exc, CaseConflict):
        response = Response(
            {"detail": str(exc), "current_version": exc.current_version},
            status=status.HTTP_412_PRECONDITION_FAILED,
        )
        response["ETag"] = f'"{exc.current_version}"'
        return response
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            exc = ValidationError(exc.message_dict)
        else:
            exc = ValidationError({"non_field_errors": exc.messages})
    from rest_framework.views import exception_handler as drf_exception_handler

    handled = drf_exception_handler(exc, context)
    if isinstance(exc, IdempotencyKeyInFlight) and handled is not None:
        handled["Retry-After"] = str(exc.retry_after_seconds)
    return handled


class IntegrationRateThrottle(SimpleRateThrottle):
    """Per integration account (keyed by user id); staff sessions are not throttled here.

    A fixed-window counter: one Redis INCR per request. DRF's own SimpleRateThrottle keeps
    the time of every request in the window as one cached list, read and rewritten on every
    request: two round trips and a payload as long as the rate allows (at 100 req/s that is
    6,000 timestamps pickled twice per request). A fixed window lets a client send up to
    twice the rate across a window boundary; for a per-integration safety limit that is fine.

    The rate is read on every request (API_INTEGRATION_THROTTLE_RATE), so it can be changed
    by the environment and by tests."""

    scope = "integration"

    def get_rate(self) -> str | None:
        return settings.API_INTEGRATION_THROTTLE_RATE

    def allow_request(self, request: Request, view: Any) -> bool:
        if not has_role(request.user, Role.INTEGRATION):
            return True
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        num_requests, duration = self.parse_rate(self.rate)
        if num_requests is None or duration is None:
            return True
        now = self.timer()
        window = int(now // duration)
        self.retry_after = (window + 1) * duration - now
        key = f"throttle:{self.scope}:{request.user.pk}:{duration}:{window}"
        return _count(key, ttl=duration + 1) <= num_requests

    def wait(self) -> float | None:
        return getattr(self, "retry_after", None)


def _count(key: str, *, ttl: int) -> int:
    """Add one to a counter that expires with its window (Django's public cache API). Every
    request but the window's first finds the counter: `incr` alone (on Redis an EXISTS and
    an atomic INCR); the first creates it with its expiry (`add`, SET NX EX), and if a twin
    request created it meanwhile, counts on it."""
    cache = caches["default"]
    try:
        return cache.incr(key)
    except ValueError:  # the window's first request
        if cache.add(key, 1, ttl):
            return 1
        try:
            return cache.incr(key)
        except ValueError:  # the window's key already expired (ttl is one second longer)
            cache.set(key, 1, ttl)
            return 1


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, refusing (400) bodies nested deeper than any request of ours is:
    100,000 `[` would exhaust the decoder's recursion, a 5,000-deep array the serializers'."""

    max_depth = 32

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("Слишком глубокая вложенность JSON.")) from None
        if _depth_exceeds(data, self.max_depth):
            raise ParseError(_("Слишком глубокая вложенность JSON."))
        return data


def _depth_exceeds(data: Any, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return False


def refuse_repeated_parameters(request: Any, *, lists: tuple[str, ...] = ()) -> None:
    """A scalar query parameter given twice (`?category=a&category=b`) is a 400, not silently
    its last value; `lists` names those that take several (`?status=new&status=waiting`)."""
    repeated = sorted(
        name
        for name, values in request.query_params.lists()
        if len(values) > 1 and name not in lists
    )
    if repeated:
        raise ValidationError({name: [_("Укажите одно значение.")] for name in repeated})
