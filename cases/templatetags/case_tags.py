from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.forms import TIME_ZONE_LABELS
from cases.models import Outcome, Status, StepOutcome

register = template.Library()


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)d д %(h)d ч") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d ч %(m)02d мин") % {"h": hours, "m": mins}
    return _("%(m)d мин") % {"m": mins}


@register.filter
def time_left(due: datetime | None) -> str:
    """«осталось 1 ч 05 мин» or «просрочено на 12 мин»."""
    if due is None:
        return "—"
    delta = due - timezone.now()
    if delta.total_seconds() < 0:
        return _("просрочено на %(t)s") % {"t": _span(delta)}
    return _("осталось %(t)s") % {"t": _span(delta)}


@register.filter
def deadline_class(due: datetime | None, at_risk_minutes: int = 30) -> str:
    if due is None:
        return ""
    left = (due - timezone.now()).total_seconds()
    if left < 0:
        return "overdue"
    if left < at_risk_minutes * 60:
        return "at-risk"
    return ""


@register.filter
def tz_label(zone) -> str:
    key = str(zone)
    return str(TIME_ZONE_LABELS.get(key, key))


@register.filter
def status_label(value: str) -> str:
    return str(dict(Status.choices).get(value, value or "—"))


@register.filter
def outcome_label(value: str) -> str:
    return str(dict(Outcome.choices).get(value, value or "—"))


@register.filter
def result_label(value: str) -> str:
    return str(dict(StepOutcome.Result.choices).get(value, value or "—"))
