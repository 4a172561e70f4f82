"""API-wide policies named in settings.REST_FRAMEWORK: the error mapping and the throttle.

Kept apart from cases/api.py because DRF imports these while importing its APIView
(an import cycle otherwise)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import ValidationError
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

    response = drf_exception_handler(exc, context)
    if isinstance(exc, IdempotencyKeyInFlight) and response is not None:
        response["Retry-After"] = str(exc.retry_after_seconds)
    return response


class IntegrationRateThrottle(SimpleRateThrottle):
    """Per integration account (keyed by user id); staff sessions are not throttled here.

    The rate is read on every request (API_INTEGRATION_THROTTLE_RATE), so it can be changed
    by the environment and by tests."""

    scope = "integration"

    def get_rate(self) -> str | None:
        return settings.API_INTEGRATION_THROTTLE_RATE

    def allow_request(self, request: Request, view: Any) -> bool:
        if not has_role(request.user, Role.INTEGRATION):
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
