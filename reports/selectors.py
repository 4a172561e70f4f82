"""Report figures. Every figure is computed by the database (GROUP BY, aggregates with
FILTER, ordered-set aggregates, EXISTS); nothing loads cases into Python, and each report
is a fixed number of queries whatever the number of cases.

Medians and 90th percentiles use PostgreSQL's percentile_cont; on SQLite (the embedded
development default) they are None and the page says so."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    Sum,
)
from django.db.models.functions import Now, TruncDate

from cases.models import Case, CaseIdentifier, Channel, Outcome, ScammerIdentifier, StepOutcome
from reminders.models import Reminder

from .filters import MOSCOW, ReportFilter


def percentiles_supported() -> bool:
    return connection.vendor == "postgresql"


class Percentiles(Aggregate):
    """percentile_cont(ARRAY[...]) WITHIN GROUP (ORDER BY expr): several percentiles from
    one sort — PostgreSQL only."""

    function = "PERCENTILE_CONT"
    name = "Percentiles"
    template = "%(function)s(ARRAY[%(fractions)s]) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fractions: tuple[float, ...], **extra: Any) -> None:
        extra["fractions"] = ", ".join(f"{float(x)!r}::float8" for x in fractions)
        super().__init__(expression, output_field=ArrayField(FloatField()), **extra)


class EpochSeconds(Func):
    """An interval as seconds (PostgreSQL)."""

    template = "EXTRACT(EPOCH FROM (%(expressions)s))"
    output_field = FloatField()


def _seconds(later: str, earlier: str) -> EpochSeconds:
    return EpochSeconds(F(later) - F(earlier))


def _percentiles(prefix: str, later: str, earlier: str) -> dict[str, Any]:
    if not percentiles_supported():
        return {}
    return {prefix: Percentiles(_seconds(later, earlier), (0.5, 0.9))}


# --- Contacts ---------------------------------------------------------------------------------


def contacts_by_day(f: ReportFilter) -> list[dict[str, Any]]:
    """One row per Moscow day in the period: the day and a count per channel (zeros kept)."""
    rows = (
        Case.objects.filter(f.case_q())
        .annotate(day=TruncDate("created_at", tzinfo=MOSCOW))
        .values("day", "channel")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[tuple[date, str], int] = {(r["day"], r["channel"]): r["n"] for r in rows}
    out = []
    for i in range(f.days):
        day = f.date_from + timedelta(days=i)
        per = {ch: counts.get((day, ch), 0) for ch in Channel.values}
        out.append({"day": day, **per, "total": sum(per.values())})
    return out


def contacts_by_category(f: ReportFilter) -> list[dict[str, Any]]:
    return list(
        Case.objects.filter(f.case_q())
        .values("category_id", name=F("category__name"))
        .annotate(n=Count("id"))
        .order_by("-n", "name")
    )


# --- Outcomes, speed, deadlines, repeat victims -----------------------------------------------


def summary(f: ReportFilter) -> dict[str, Any]:
    """Outcomes, money, speed and deadlines in one aggregate, repeat victims in a second."""
    aggregates: dict[str, Any] = {
        "total": Count("id"),
        "code_disclosed": Count("id", filter=Q(code_disclosed=True)),
        "money_lost": Count("id", filter=Q(money_lost=True)),
        "money_amount": Sum("money_amount"),
        "resolved": Count("id", filter=Q(resolved_at__isnull=False)),
        "due_resolved": Count("id", filter=Q(resolved_at__isnull=False, due_at__isnull=False)),
        "on_time": Count("id", filter=Q(resolved_at__lte=F("due_at"))),
        "open_overdue": Count("id", filter=Q(resolved_at__isnull=True, due_at__lt=Now())),
        **{f"outcome_{o}": Count("id", filter=Q(outcome=o)) for o in Outcome.values},
        **_percentiles("first_action", "first_action_at", "created_at"),
        **_percentiles("resolve", "resolved_at", "created_at"),
    }
    data = Case.objects.filter(f.case_q()).aggregate(**aggregates)
    total = data["total"]
    data["outcomes"] = [
        {"value": o.value, "label": str(o.label), "n": data.pop(f"outcome_{o.value}")}
        for o in Outcome
    ]
    data["referred"] = sum(o["n"] for o in data["outcomes"] if o["value"].startswith("referred_"))
    for prefix in ("first_action", "resolve"):
        values = data.pop(prefix, None) or [None, None]
        data[f"{prefix}_median"], data[f"{prefix}_p90"] = values
    data["repeat"] = repeat_victims(f)
    data["repeat_share"] = _share(data["repeat"], total)
    data["on_time_share"] = _share(data["on_time"], data["due_resolved"])
    data["repeat_days"] = settings.REPEAT_VICTIM_DAYS
    data["percentiles_supported"] = percentiles_supported()
    return data


def repeat_victims(f: ReportFilter) -> int:
    """How many of the period's cases come from a subscriber whose previous case (any
    channel, any category) was at most REPEAT_VICTIM_DAYS earlier.

    Short periods (and SQLite): an EXISTS probe per case on case_subscriber_idx (~7 µs a
    case). Periods longer than a quarter of the window on PostgreSQL: LAG over the
    subscriber's cases since start - N days, one pass over the covering index (~1.4 µs a
    row, but it also reads the N days before the period)."""
    window = timedelta(days=settings.REPEAT_VICTIM_DAYS)
    if connection.vendor != "postgresql" or f.days * 4 <= settings.REPEAT_VICTIM_DAYS:
        earlier_case = Case.objects.filter(
            subscriber_id=OuterRef("subscriber_id"),
            created_at__lt=OuterRef("created_at"),
            created_at__gte=OuterRef("created_at") - window,
        )
        return Case.objects.filter(f.case_q()).filter(Exists(earlier_case)).count()
    outer, params = ["created_at >= %s"], [f.start]
    if f.channel:
        outer.append("channel = %s")
        params.append(f.channel)
    if f.category_id:
        outer.append("category_id = %s")
        params.append(f.category_id)
    sql = f"""
        SELECT count(*) FROM (
            SELECT created_at, channel, category_id,
                   LAG(created_at) OVER (PARTITION BY subscriber_id ORDER BY created_at, id)
                       AS previous_at
            FROM {Case._meta.db_table}
            WHERE created_at >= %s AND created_at < %s
        ) AS recent
        WHERE previous_at >= created_at - %s AND {" AND ".join(outer)}
    """  # noqa: S608 - table name from the model, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [f.start - window, f.end, window, *params])
        return cursor.fetchone()[0]


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


# --- Scammer identifiers ----------------------------------------------------------------------


def top_identifiers(f: ReportFilter, *, kind: str, limit: int = 10) -> list[dict[str, Any]]:
    """The most reported identifiers of one kind, by distinct subscribers in the period."""
    return list(
        CaseIdentifier.objects.filter(f.case_q("case__"), identifier__kind=kind)
        .values("identifier_id", value=F("identifier__value"))
        .annotate(
            subscribers=Count("case__subscriber_id", distinct=True),
            cases=Count("case_id"),
        )
        .order_by("-subscribers", "-cases", "value")[:limit]
    )


# --- Playbook steps ---------------------------------------------------------------------------


def step_completion(f: ReportFilter) -> list[dict[str, Any]]:
    """Per playbook step (category, position, title): how often done, not applicable, refused,
    escalated on the period's cases."""
    results = StepOutcome.Result
    return list(
        StepOutcome.objects.filter(f.case_q("case__"))
        .values(
            "step__position",
            category=F("case__category__name"),
            title=F("step__title"),
        )
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(result=results.DONE)),
            not_applicable=Count("id", filter=Q(result=results.NOT_APPLICABLE)),
            refused=Count("id", filter=Q(result=results.REFUSED)),
            escalated=Count("id", filter=Q(result=results.ESCALATED)),
        )
        .order_by("category", "step__position", "title")
    )


# --- SMS --------------------------------------------------------------------------------------


def sms_summary(f: ReportFilter) -> dict[str, Any]:
    """Follow-up SMS created in the period (for the period's channel/category filters)."""
    q = Q(created_at__gte=f.start, created_at__lt=f.end)
    if f.channel:
        q &= Q(case__channel=f.channel)
    if f.category_id:
        q &= Q(case__category_id=f.category_id)
    s = Reminder.Status
    data = Reminder.objects.filter(q).aggregate(
        total=Count("id"),
        scheduled=Count("id", filter=Q(status__in=[s.SCHEDULED, s.SENDING])),
        sent=Count("id", filter=Q(status__in=[s.SENT, s.DELIVERED])),
        delivered=Count("id", filter=Q(status=s.DELIVERED)),
        failed=Count("id", filter=Q(status__in=[s.FAILED, s.UNKNOWN])),
        cancelled=Count("id", filter=Q(status=s.CANCELLED)),
        skipped_opt_out=Count("id", filter=Q(status=s.SKIPPED_OPT_OUT)),
        shifted_by_quiet_hours=Count("id", filter=Q(shifted_by_quiet_hours=True)),
    )
    return data


# --- Specialists ------------------------------------------------------------------------------


def specialists(f: ReportFilter) -> list[dict[str, Any]]:
    """Per assignee: cases in the period, resolved among them, median time to resolve."""
    rows = (
        Case.objects.filter(f.case_q(), assignee__isnull=False)
        .values(
            "assignee_id",
            username=F("assignee__username"),
            first_name=F("assignee__first_name"),
            last_name=F("assignee__last_name"),
        )
        .annotate(
            handled=Count("id"),
            resolved=Count("id", filter=Q(resolved_at__isnull=False)),
            **(
                {"median": Percentiles(_seconds("resolved_at", "created_at"), (0.5,))}
                if percentiles_supported()
                else {}
            ),
        )
        .order_by("-handled", "username")
    )
    out = []
    for r in rows:
        r["median"] = r["median"][0] if r.get("median") else None
        r["name"] = f"{r['first_name']} {r['last_name']}".strip() or r["username"]
        out.append(r)
    return out


# --- The whole report -------------------------------------------------------------------------


@dataclass
class Report:
    filter: ReportFilter
    by_day: list[dict[str, Any]] = field(default_factory=list)
    by_category: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    top_phones: list[dict[str, Any]] = field(default_factory=list)
    top_senders: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    sms: dict[str, Any] = field(default_factory=dict)
    specialists: list[dict[str, Any]] = field(default_factory=list)


def report_build(f: ReportFilter) -> Report:
    """Nine queries: by day, by category, summary, repeat victims, two identifier tops,
    steps, SMS, specialists."""
    return Report(
        filter=f,
        by_day=contacts_by_day(f),
        by_category=contacts_by_category(f),
        summary=summary(f),
        top_phones=top_identifiers(f, kind=ScammerIdentifier.Kind.PHONE),
        top_senders=top_identifiers(f, kind=ScammerIdentifier.Kind.SENDER),
        steps=step_completion(f),
        sms=sms_summary(f),
        specialists=specialists(f),
    )
