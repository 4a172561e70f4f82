"""Who may use the scammer intelligence: the rules are in cases/rules.py (one home); this
only names them for the intel app's entry points."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from cases.access import has, require


def require_review(user: Any) -> None:
    require(user, "intel.review", _("Решения по идентификаторам принимает старший смены."))


def require_feed(user: Any) -> None:
    require(user, "intel.read_feed", _("Фид доступен системам блокировки и старшим смены."))


def require_waves(user: Any) -> None:
    require(user, "intel.view_waves", _("Волны видят старшие смены и руководители."))


def may_review(user: Any) -> bool:
    return has(user, "intel.review")


def may_see_waves(user: Any) -> bool:
    return has(user, "intel.view_waves")
