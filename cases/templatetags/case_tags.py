from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from django import template
from django.template import engines
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from cases import deadlines, personal_data
from cases.forms import TIME_ZONE_LABELS
from cases.models import CaseEvent, ChatState, Outcome, Status, StepOutcome

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


# Each label by value, built once: `X.choices` builds a list and the dict every call, which
# the timeline asked per event (a tenth of a chat reply's CPU). The labels are lazy: str()
# translates the one shown into the active language.
_STATUS_LABELS = dict(Status.choices)
_CHAT_STATE_LABELS = dict(ChatState.choices)
_OUTCOME_LABELS = dict(Outcome.choices)
_RESULT_LABELS = dict(StepOutcome.Result.choices)
_KIND_LABELS = dict(CaseEvent.Kind.choices)


def _label(labels: dict[str, Any], value: str) -> str:
    return str(labels.get(value, value or "—"))


def _memo(labels: dict[str, Any]) -> Any:
    """value -> its label in the active language, each translated once for this rendering
    (a translation looks the active language up every time: a timeline of 40 events asked
    80)."""
    shown: dict[str, str] = {}

    def label(value: str) -> str:
        if value not in shown:
            shown[value] = _label(labels, value)
        return shown[value]

    return label


@register.filter
def status_label(value: str) -> str:
    return _label(_STATUS_LABELS, value)


@register.filter
def chat_state_label(value: str) -> str:
    return _label(_CHAT_STATE_LABELS, value)


@register.filter
def outcome_label(value: str) -> str:
    return _label(_OUTCOME_LABELS, value)


@register.filter
def result_label(value: str) -> str:
    return _label(_RESULT_LABELS, value)


@register.simple_tag
def case_table(rows: list[Any], can_assign: bool) -> str:
    """The lists' table, from its Jinja2 template cases/jinja2/cases/_case_table.html: fifty
    rows of ten cells render several times faster there than in this page's engine."""
    template = engines["jinja2"].get_template("cases/_case_table.html")
    return mark_safe(template.render({"rows": rows, "can_assign": can_assign}))  # escaped by it


@register.simple_tag(takes_context=True)
def staff_rows(context: template.Context, staff: list[Any]) -> str:
    """The supervisor's staff table's rows (context: can_assign, csrf_token, staff_back) from
    cases/jinja2/cases/_staff_rows.html: a row per specialist of the page, with its forms,
    which come back to that page; 1,500 rows took 1.2 s of CPU in this page's engine."""
    template = engines["jinja2"].get_template("cases/_staff_rows.html")
    return mark_safe(  # escaped by it
        template.render(
            {
                "staff": staff,
                "can_assign": context.get("can_assign"),
                "csrf_token": context.get("csrf_token"),
                "back": context.get("staff_back") or reverse("cases:queue"),
                "list_url": reverse("cases:list"),
                "absence_url": reverse("cases:absence"),
                "availability_url": reverse("cases:availability"),
                "deadline_class": deadlines.deadline_class,
                "time_left": deadlines.time_left,
                "hhmm": lambda moment: timezone.localtime(moment).strftime("%H:%M"),
            }
        )
    )


@register.simple_tag(takes_context=True)
def chat_rows(context: template.Context) -> str:
    """The conversation's lines (context: chat_messages, case, staff_tz, mask_personal_data,
    can_resend, csrf_token) from cases/jinja2/cases/_chat_rows.html: part of every push and
    poll of an open chat case and of every reply."""
    zone = _zone(context)
    masked = bool(context.get("mask_personal_data"))
    case = context.get("case")
    template = engines["jinja2"].get_template("cases/_chat_rows.html")
    return mark_safe(  # escaped by it
        template.render(
            {
                "chat_messages": context.get("chat_messages") or [],
                "case": case,
                "subscriber_name": name_for(case.subscriber.name, masked) if case else "",
                "can_resend": context.get("can_resend"),
                "csrf_token": context.get("csrf_token"),
                "local": lambda moment: timezone.localtime(moment, zone),
                "text": lambda value: text_for(value, masked),
                "truncate": lambda value, n: Truncator(value).chars(n) if value else "",
            }
        )
    )


@register.simple_tag(takes_context=True)
def timeline(context: template.Context) -> str:
    """The case's timeline (context: events, staff_tz, mask_personal_data, oob) from its
    Jinja2 template cases/jinja2/cases/_timeline.html: a row per event, part of every answer
    of a step, a chat reply or an SMS, renders several times faster there."""
    zone = _zone(context)
    masked = bool(context.get("mask_personal_data"))
    template = engines["jinja2"].get_template("cases/_timeline.html")
    return mark_safe(  # escaped by it
        template.render(
            {
                "events": context.get("events") or [],
                "oob": context.get("oob"),
                "local": lambda moment: timezone.localtime(moment, zone),
                "text": lambda value: text_for(value, masked),
                # Each label translated once per rendering, not once per event.
                "kind_label": _memo(_KIND_LABELS),
                "status_label": _memo(_STATUS_LABELS),
                "outcome_label": _memo(_OUTCOME_LABELS),
                "result_label": _memo(_RESULT_LABELS),
                "chat_state_label": _memo(_CHAT_STATE_LABELS),
            }
        )
    )


@register.simple_tag(takes_context=True)
def step_rows(context: template.Context, rows: Any) -> str:
    """The playbook's step rows (context: case, can_change, step_results, staff_tz, the
    refused step's error and typed note) from cases/jinja2/cases/_step_rows.html: several
    times faster there, and part of the most frequent answer (a step recorded)."""
    zone = _zone(context)
    template = engines["jinja2"].get_template("cases/_step_rows.html")
    rows = rows if isinstance(rows, list) else [rows]  # the case page's, or the one answered
    return mark_safe(  # escaped by it
        template.render(
            {
                "rows": rows,
                "case": context["case"],
                "can_change": context.get("can_change"),
                "step_results": context.get("step_results") or [],
                "step_error": context.get("step_error"),
                "error_step_id": context.get("error_step_id"),
                "typed_note": context.get("typed_note"),
                "csrf_token": context.get("csrf_token"),
                "local": lambda moment: timezone.localtime(moment, zone),
            }
        )
    )


def _zone(context: template.Context) -> Any:
    zone = context.get("staff_tz") or timezone.get_default_timezone()
    return zoneinfo.ZoneInfo(zone) if isinstance(zone, str) else zone


# Personal data, masked for whoever may not see it (context: mask_personal_data).
@register.filter
def phone_for(msisdn: object, masked: bool) -> str:
    return personal_data.mask_phone(msisdn) if masked else str(msisdn or "")


@register.filter
def name_for(name: str | None, masked: bool) -> str:
    return personal_data.mask_name(name) if masked else (name or "")


@register.filter
def text_for(text: str | None, masked: bool) -> str:
    return personal_data.mask_text(text) if masked else (text or "")
