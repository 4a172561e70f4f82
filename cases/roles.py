"""Who is who: staff roles are Django groups; integrations are service accounts."""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(StrEnum):
    SPECIALIST = "specialist"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    INTEGRATION = "integration"


def user_roles(user: AbstractBaseUser | AnonymousUser | None) -> frozenset[str]:
    """The user's role names, read once per request and kept on the user object."""
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_fraudcenter_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        user._fraudcenter_roles = cached  # type: ignore[union-attr]
    return cached


def has_role(user: AbstractBaseUser | AnonymousUser | None, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))
