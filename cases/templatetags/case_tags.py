from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from cases.forms import TIME_ZONE_LABELS
from cases.models import Case, Channel, Outcome, Status, StepOutcome

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
def time_left(due: datetime | None, now: datetime | None = None) -> str:
    """«осталось 1 ч 05 мин» or «просрочено на 12 мин»."""
    if due is None:
        return "—"
    delta = due - (now or timezone.now())
    if delta.total_seconds() < 0:
        return _("просрочено на %(t)s") % {"t": _span(delta)}
    return _("осталось %(t)s") % {"t": _span(delta)}


@register.filter
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


# --- The case list's rows ---------------------------------------------------------------------
# Rendered in Python, as Django's admin renders its change list (admin's `result_list`): fifty
# rows of ten cells through the template engine were most of the list page's time.


def _row(case: Case, can_assign: bool, now: datetime, labels: dict[str, dict[str, str]]) -> str:
    cells = []
    if can_assign:
        cells.append(
            format_html(
                '<td><input type="checkbox" name="cases" value="{}" aria-label="{}">'
                '<input type="hidden" name="v_{}" value="{}"></td>',
                case.pk,
                case.number,
                case.pk,
                case.version,
            )
        )
    assignee = case.assignee
    if assignee is not None:
        who = conditional_escape(assignee.get_full_name() or assignee.username)
    else:
        who = format_html("<em>{}</em>", _("не назначено"))
    if case.is_open:
        due_class, due_text = deadline_class(case.due_at, now=now), time_left(case.due_at, now=now)
    else:
        due_class, due_text = "", "—"
    cells.append(
        format_html(
            '<td><a class="num" href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            '<td><span class="badge status-{}">{}</span></td><td class="{}">{}</td><td>{}</td>'
            '<td class="summary-cell">{}</td>',
            reverse("cases:detail", args=[case.pk]),
            case.number,
            timezone.localtime(case.created_at).strftime("%d.%m.%Y %H:%M"),
            case.subscriber.msisdn,
            case.category,
            labels["channel"].get(case.channel, case.channel),
            case.status,
            labels["status"].get(case.status, case.status),
            due_class,
            due_text,
            who,
            case.summary,
        )
    )
    return format_html('<tr class="prio-{}">{}</tr>', case.priority, mark_safe("".join(cells)))


@register.simple_tag
def case_rows(cases: list[Case], can_assign: bool, empty_text: str) -> str:
    if not cases:
        return format_html('<tr><td colspan="10">{}</td></tr>', empty_text)
    now = timezone.now()
    # get_FOO_display() hashes every lazy label of the field's choices, translating each
    # one (~20 gettext calls a row): translate them once per list instead.
    labels = {
        "channel": {k: str(v) for k, v in Channel.choices},
        "status": {k: str(v) for k, v in Status.choices},
    }
    return mark_safe("\n".join(_row(c, can_assign, now, labels) for c in cases))


@register.simple_tag
def staff_options(users: list[Any]) -> str:
    return format_html_join(
        "",
        '<option value="{}">{}</option>',
        ((u.pk, u.get_full_name() or u.username) for u in users),
    )
