"""Who is who: staff roles are Django groups; integrations are service accounts."""

from __future__ import annotations

import json
import weakref
from enum import StrEnum
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.functional import LazyObject, empty
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
# user object, with the model permissions in the same query (for a session's user, in the
# user's own query), and kept beside the object, keyed by its identity, until it is gone.
# Nothing is set on the model instance, and another request's object for the same account
# reads them afresh.
_ROLES: dict[int, frozenset[str]] = {}
_PERMISSIONS: dict[int, frozenset[str]] = {}
# The person's time zone from their staff profile, read in the same statement ("" when they
# have no profile yet): the case page, a step's answer and the chat show times in it.
_TIME_ZONES: dict[int, str] = {}

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


def _unwrapped(user: Any) -> Any:
    """The user object itself: a request's user is a lazy wrapper around the one the
    session's backend returned (RoleAwareModelBackend.get_user kept the roles for that one)."""
    if isinstance(user, LazyObject):
        if user._wrapped is empty:
            user._setup()
        return user._wrapped
    return user


def _keep(table: dict[int, Any], user: Any, values: Any) -> None:
    user = _unwrapped(user)
    key = id(user)
    if key not in _ROLES and key not in _PERMISSIONS and key not in _TIME_ZONES:
        weakref.finalize(user, _forget, key)
    table[key] = values


def _forget(key: int) -> None:
    _ROLES.pop(key, None)
    _PERMISSIONS.pop(key, None)
    _TIME_ZONES.pop(key, None)


def kept_time_zone(user: Any) -> str | None:
    """The time zone's name read with the session's user; "" if they have no staff profile,
    None if it was not read with this user object (cases.services.staff_time_zone)."""
    return _TIME_ZONES.get(id(_unwrapped(user)))


def _load(user: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_ROLES_AND_PERMISSIONS_SQL, {"user": user.pk})
        rows = cursor.fetchall()
    _keep(_ROLES, user, frozenset(name for kind, name, _ in rows if kind == "role"))
    _keep(_PERMISSIONS, user, frozenset(f"{a}.{c}" for kind, a, c in rows if kind == "perm"))


# The session's user with its roles and model permissions, in one statement
# (RoleAwareModelBackend.get_user): each list a JSON array, which both databases build.
_USER_WITH_ROLES_SQL = """
SELECT u.*,
  (SELECT {agg}(g.name) FROM auth_user_groups ug
     JOIN auth_group g ON g.id = ug.group_id WHERE ug.user_id = u.id) AS fc_role_names,
  (SELECT {agg}(x.perm) FROM (
     SELECT ct.app_label || '.' || p.codename AS perm FROM auth_user_groups ug
       JOIN auth_group_permissions gp ON gp.group_id = ug.group_id
       JOIN auth_permission p ON p.id = gp.permission_id
       JOIN django_content_type ct ON ct.id = p.content_type_id WHERE ug.user_id = u.id
     UNION ALL
     SELECT ct.app_label || '.' || p.codename FROM auth_user_user_permissions up
       JOIN auth_permission p ON p.id = up.permission_id
       JOIN django_content_type ct ON ct.id = p.content_type_id WHERE up.user_id = u.id
  ) x) AS fc_permission_names,
  COALESCE((SELECT sp.time_zone FROM cases_staffprofile sp WHERE sp.user_id = u.id), '')
    AS fc_time_zone
FROM auth_user u WHERE u.id = %s
"""


def _json_list(value: Any) -> frozenset[str]:
    # PostgreSQL's json_agg: NULL for none (and text, as Django has psycopg load JSON);
    # SQLite's json_group_array: text.
    if value is None:
        return frozenset()
    return frozenset(json.loads(value) if isinstance(value, str | bytes) else value)


def remember_roles(user: Any, roles: frozenset[str]) -> None:
    """Keep roles read with the user (the token query brings them) for this user object."""
    _keep(_ROLES, user, roles)


def user_roles(user: Any) -> frozenset[str]:
    """The user's role names: one query per user object (with its permissions), then memory."""
    if user is None or not user.is_authenticated:
        return frozenset()
    user = _unwrapped(user)
    if id(user) not in _ROLES:
        _load(user)
    return _ROLES[id(user)]


def has_role(user: Any, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def has_model_permission(user: Any, permission: str) -> bool:
    """A Django model permission ("cases.export_unmasked"), from the roles' query. The same
    answer as `user.has_perm(permission)` (RoleAwareModelBackend), kept for the same user
    object as the roles."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    user = _unwrapped(user)
    if id(user) not in _PERMISSIONS:
        _load(user)
    return permission in _PERMISSIONS[id(user)]


class RoleAwareModelBackend(ModelBackend):
    """Django's ModelBackend, with a user's model permissions read in the roles' query.

    Overrides the public `get_all_permissions` (what `has_perm` asks); superusers, inactive
    users and per-object checks are Django's own."""

    def get_user(self, user_id: Any) -> Any:
        """Django's, with the user's roles, model permissions and time zone read in the same
        statement (every staff request asks for the first two, most pages for the third:
        three round trips were one)."""
        user_model = get_user_model()
        try:
            pk = user_model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        sql = _USER_WITH_ROLES_SQL.format(
            agg="json_agg" if connection.vendor == "postgresql" else "json_group_array"
        )
        user = next(iter(user_model._default_manager.raw(sql, [pk])), None)
        if user is None or not self.user_can_authenticate(user):
            return None
        _keep(_ROLES, user, _json_list(user.__dict__.pop("fc_role_names")))
        _keep(_PERMISSIONS, user, _json_list(user.__dict__.pop("fc_permission_names")))
        _keep(_TIME_ZONES, user, user.__dict__.pop("fc_time_zone"))
        return user

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return super().get_all_permissions(user_obj, obj)
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        user_obj = _unwrapped(user_obj)
        if id(user_obj) not in _PERMISSIONS:
            _load(user_obj)
        return set(_PERMISSIONS[id(user_obj)])
