"""Integration token authentication: knox's tokens, checked in one query instead of three.

A subclass of knox's TokenAuthentication through its public points: `authenticate_credentials`
(the token check) and `validate_user`; knox's hashing (`knox.crypto.hash_token`), token model
and settings. Nothing private of knox is called or overridden."""

from __future__ import annotations

import binascii
import time
from hmac import compare_digest
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.db.models import OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header
from rest_framework.throttling import BaseThrottle

from .roles import remember_roles


class TokenAuthentication(KnoxTokenAuthentication):
    """knox, with the role names read in the token's query and no sweep of other tokens.

    knox sweeps every expired token of the user on every request (a second query) and the
    permission checks then read the user's groups (a third). Here one query brings the token,
    its user and, on PostgreSQL, the user's role names; an expired token is still refused
    and deleted when presented. Expired tokens nobody presents stay until
    `create_integration NAME --revoke` or the admin removes them."""

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        """knox's check, behind a budget of failures per client address: guessing tokens
        (600 bad ones in 3 s) gets 429 once the budget is spent, without a query.

        The shared budget (the cache) is read only for an address this process has seen
        fail within the window: an integration with a good token, nearly every request,
        pays no cache round trip for it. Each process lets at most one guess of a spent
        budget through to the token query before it starts reading the budget too."""
        if not get_authorization_header(request):
            return None  # no credentials: another authenticator's request (a session)
        key = _failure_key(request)
        failed_here = _failed_here.get(key)
        recent = failed_here is not None and time.monotonic() - failed_here < _failure_budget()[1]
        if recent and (cache.get(key) or 0) >= _failure_budget()[0]:
            raise exceptions.Throttled(wait=_failure_budget()[1])
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            if len(_failed_here) >= _FAILED_HERE_MAX:
                _failed_here.clear()  # a spray from many addresses: start again, stay small
            _failed_here[key] = time.monotonic()
            cache.add(key, 0, _failure_budget()[1])
            try:
                cache.incr(key)
            except ValueError:  # the window ended between add() and incr()
                cache.set(key, 1, _failure_budget()[1])
            raise

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        msg = _("Invalid token.")
        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError:  # raw bytes in the header: no token of ours
            raise exceptions.AuthenticationFailed(msg) from None
        tokens = (
            get_token_model()
            .objects.filter(token_key=text[: CONSTANTS.TOKEN_KEY_LENGTH])
            .select_related("user")
        )
        if connection.vendor == "postgresql":
            from django.contrib.postgres.expressions import ArraySubquery

            tokens = tokens.annotate(
                role_names=ArraySubquery(
                    Group.objects.filter(user=OuterRef("user_id")).values("name")
                )
            )
        for auth_token in tokens:
            if refuse_expired(auth_token, sender=type(self)):
                continue
            try:
                digest = hash_token(text)
            except (TypeError, binascii.Error):
                raise exceptions.AuthenticationFailed(msg) from None
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                user, auth_token = self.validate_user(auth_token)
                if hasattr(auth_token, "role_names"):
                    remember_roles(user, frozenset(auth_token.role_names))
                return user, auth_token
        raise exceptions.AuthenticationFailed(msg)


def refuse_expired(auth_token: Any, *, sender: type) -> bool:
    """An expired token is deleted when presented, as knox does, with knox's signal."""
    if auth_token.expiry is not None and auth_token.expiry < timezone.now():
        username = auth_token.user.get_username()
        auth_token.delete()
        token_expired.send(sender=sender, username=username, source="auth_token")
        return True
    return False


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI description of the token: knox's, for this subclass."""

    target_class = "cases.auth.TokenAuthentication"


# Client addresses this process saw fail authentication, with when (time.monotonic()).
_failed_here: dict[str, float] = {}
_FAILED_HERE_MAX = 10_000


def _failure_key(request: Any) -> str:
    # DRF's own client identity: the address, or X-Forwarded-For behind NUM_PROXIES proxies.
    return f"auth-failures:{BaseThrottle().get_ident(request)}"


def _failure_budget() -> tuple[int, int]:
    """(failures, seconds) from API_AUTH_FAILURE_RATE, e.g. "30/min"."""
    count, period = settings.API_AUTH_FAILURE_RATE.split("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]
    return int(count), seconds
