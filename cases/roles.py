"""Who is who: staff roles are Django groups; integrations are service accounts."""

from __future__ import annotations

import weakref
from enum import StrEnum
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.utils.translation import gettext_lazy as _


class Role(StrEnum):
    SPECIALIST = "specialist"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    INTEGRATION = "integration"
    # The operator's antifraud and blocking systems: read the feed of confirmed identifiers.
    BLOCKING = "blocking"


# How the admin and the pages name the roles.
ROLE_LABELS = {
    Role.SPECIALIST: _("специалист"),
    Role.SUPERVISOR: _("старший смены"),
    Role.MANAGER: _("руководитель"),
    Role.INTEGRATION: _("интеграция"),
    Role.BLOCKING: _("система блокировки (фид)"),
}

# The people who use the staff pages (integrations are machines).
STAFF_ROLES = frozenset({Role.SPECIALIST, Role.SUPERVISOR, Role.MANAGER})

# A request asks for the user's roles many times (every access check): they are read once per
# user object, with the model permissions in the same query, and kept beside the object,
# keyed by its identity, until it is gone. Nothing is set on the model instance, and another
# request's object for the same account reads them afresh.
_ROLES: dict[int, frozenset[str]] = {}
_PERMISSIONS: dict[int, frozenset[str]] = {}

_ROLES_AND_PERMISSIONS_SQL = """
SELECT 'role', g.name, '' FROM auth_user_groups ug
  JOIN auth_group g ON g.id = ug.group_id WHERE ug.user_id = %(user)s
UNION ALL
SELECT 'perm', ct.app_label, p.codename FROM auth_user_groups ug
  JOIN auth_group_permissions gp ON gp.group_id = ug.group_id
  JOIN auth_permission p ON p.id = gp.permission_id
  JOIN django_content_type ct ON ct.id = p.content_type_id WHERE ug.user_id = %(user)s
UNION ALL
SELECT 'perm', ct.app_label, p.codename FROM auth_user_user_permissions up
  JOIN auth_permission p ON p.id = up.permission_id
  JOIN django_content_type ct ON ct.id = p.content_type_id WHERE up.user_id = %(user)s
"""


def _keep(table: dict[int, frozenset[str]], user: Any, values: frozenset[str]) -> None:
    key = id(user)
    if key not in _ROLES and key not in _PERMISSIONS:
        weakref.finalize(user, _forget, key)
    table[key] = values


def _forget(key: int) -> None:
    _ROLES.pop(key, None)
    _PERMISSIONS.pop(key, None)


def _load(user: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_ROLES_AND_PERMISSIONS_SQL, {"user": user.pk})
        rows = cursor.fetchall()
    _keep(_ROLES, user, frozenset(name for kind, name, _ in rows if kind == "role"))
    _keep(_PERMISSIONS, user, frozenset(f"{a}.{c}" for kind, a, c in rows if kind == "perm"))


def remember_roles(user: Any, roles: frozenset[str]) -> None:
    """Keep roles read with the user (the token query brings them) for this user object."""
    _keep(_ROLES, user, roles)


def user_roles(user: Any) -> frozenset[str]:
    """The user's role names: one query per user object (with its permissions), then memory."""
    if user is None or not user.is_authenticated:
        return frozenset()
    if id(user) not in _ROLES:
        _load(user)
    return _ROLES[id(user)]


def has_role(user: Any, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def has_model_permission(user: Any, permission: str) -> bool:
    """A Django model permission ("cases.export_unmasked"), from the roles' query. The same
    answer as `user.has_perm(permission)` (RoleAwareModelBackend), on the same user object as
    the role checks (a request's lazy user and the user inside it are two objects)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if id(user) not in _PERMISSIONS:
        _load(user)
    return permission in _PERMISSIONS[id(user)]


class RoleAwareModelBackend(ModelBackend):
    """Django's ModelBackend, with a user's model permissions read in the roles' query.

    Overrides the public `get_all_permissions` (what `has_perm` asks); superusers, inactive
    users and per-object checks are Django's own."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return super().get_all_permissions(user_obj, obj)
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if id(user_obj) not in _PERMISSIONS:
            _load(user_obj)
        return set(_PERMISSIONS[id(user_obj)])
