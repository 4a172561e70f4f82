"""Who may read calls and work callbacks: the rules live beside the cases' (cases.rules),
asked through cases.access like every other way in."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from cases.access import has, require


def may_view_calls(user: Any) -> bool:
    return has(user, "calls.view_call")


def may_work_callbacks(user: Any) -> bool:
    return has(user, "calls.work_callback")


def require_view_calls(user: Any) -> None:
    require(user, "calls.view_call", _("Звонки видят сотрудники центра и интеграции."))


def require_work_callbacks(user: Any) -> None:
    require(user, "calls.work_callback", _("Перезванивают специалисты и старшие смены."))
