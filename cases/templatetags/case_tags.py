from __future__ import annotations

from datetime import datetime

from django import template

from cases import deadlines
from cases.forms import TIME_ZONE_LABELS
from cases.models import Outcome, Status, StepOutcome

register = template.Library()


@register.filter
def time_left(due: datetime | None, now: datetime | None = None) -> str:
    return deadlines.time_left(due, now)


@register.filter
def deadline_class(
    due: datetime | None, at_risk_minutes: int = 30, now: datetime | None = None
) -> str:
    return deadlines.deadline_class(due, at_risk_minutes, now)


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
