"""Deadlines in words: «осталось 1 ч 05 мин», «просрочено на 12 мин», and the row class.

Shared by the templates' filters (cases.templatetags.case_tags) and the list rows
(cases.selectors.case_list_rows)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)d д %(h)d ч") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d ч %(m)02d мин") % {"h": hours, "m": mins}
    return _("%(m)d мин") % {"m": mins}


def time_left(due: datetime | None, now: datetime | None = None) -> str:
    """«осталось 1 ч 05 мин» or «просрочено на 12 мин»."""
    if due is None:
        return "—"
    delta = due - (now or timezone.now())
    if delta.total_seconds() < 0:
        return _("просрочено на %(t)s") % {"t": _span(delta)}
    return _("осталось %(t)s") % {"t": _span(delta)}


def deadline_class(
    due: datetime | None, at_risk_minutes: int = 30, now: datetime | None = None
) -> str:
    if due is None:
        return ""
    left = (due - (now or timezone.now())).total_seconds()
    if left < 0:
        return "overdue"
    if left < at_risk_minutes * 60:
        return "at-risk"
    return ""
