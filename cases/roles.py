"""Who is who: staff roles are Django groups; integrations are service accounts."""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection


class Role(StrEnum):
    SPECIALIST = "specialist"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    INTEGRATION = "integration"


# The people who use the staff pages (integrations are machines).
STAFF_ROLES = frozenset({Role.SPECIALIST, Role.SUPERVISOR, Role.MANAGER})


def user_roles(user: AbstractBaseUser | AnonymousUser | None) -> frozenset[str]:
    """The user's role names, read once per request and kept on the user object."""
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_fraudcenter_roles", None)
    if cached is None:
        cached = _load_roles_and_permissions(user)
        user._fraudcenter_roles = cached  # type: ignore[union-attr]
    return cached


# Role names, the groups' permissions and the user's own permissions, in one query. Django's
# ModelBackend would read the two permission sets with a query each on the first has_perm();
# they are left in the attributes it caches them in.
_ROLES_AND_PERMISSIONS_SQL = """
SELECT 'role', g.name, '' FROM auth_user_groups ug
  JOIN auth_group g ON g.id = ug.group_id WHERE ug.user_id = %(user)s
UNION ALL
SELECT 'group', ct.app_label, p.codename FROM auth_user_groups ug
  JOIN auth_group_permissions gp ON gp.group_id = ug.group_id
  JOIN auth_permission p ON p.id = gp.permission_id
  JOIN django_content_type ct ON ct.id = p.content_type_id WHERE ug.user_id = %(user)s
UNION ALL
SELECT 'user', ct.app_label, p.codename FROM auth_user_user_permissions up
  JOIN auth_permission p ON p.id = up.permission_id
  JOIN django_content_type ct ON ct.id = p.content_type_id WHERE up.user_id = %(user)s
"""


def _load_roles_and_permissions(user: AbstractBaseUser) -> frozenset[str]:
    with connection.cursor() as cursor:
        cursor.execute(_ROLES_AND_PERMISSIONS_SQL, {"user": user.pk})
        rows = cursor.fetchall()
    roles = frozenset(name for kind, name, _ in rows if kind == "role")
    if user.is_active and not getattr(user, "is_superuser", False):  # superusers: all perms
        for kind in ("group", "user"):
            cache = f"_{kind}_perm_cache"
            if not hasattr(user, cache):
                setattr(user, cache, {f"{app}.{code}" for k, app, code in rows if k == kind})
    return roles


def has_role(user: AbstractBaseUser | AnonymousUser | None, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))
