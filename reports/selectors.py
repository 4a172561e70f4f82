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
from django.contrib.auth import get_user_model
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
)
from django.db.models.functions import Now

from cases.models import Case, CaseIdentifier, Channel, Outcome, ScammerIdentifier, StepOutcome
from playbooks.models import Category
from reminders.models import Reminder

from . import rollup
from .filters import ReportFilter


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


# --- Additive figures: the daily rollup ---------------------------------------------------------


def _rollup_query(
    f: ReportFilter,
    select: str,
    *,
    join: str = "",
    where: str = "",
    group_by: str = "",
    order_by: str = "",
) -> list[dict[str, Any]]:
    """One query over the period's per-(day, channel, category, assignee) rows
    (rollup.figure_rows: rollup rows for clean days, live GROUP BY for the others)."""
    rows_sql, params = rollup.figure_rows(f)
    sql = f"SELECT {select} FROM ({rows_sql}) AS r {join}"
    if where:
        sql += f" WHERE {where}"
    if group_by:
        sql += f" GROUP BY {group_by}"
    if order_by:
        sql += f" ORDER BY {order_by}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- Contacts ---------------------------------------------------------------------------------


def contacts_by_day(f: ReportFilter) -> list[dict[str, Any]]:
    """One row per Moscow day in the period: the day and a count per channel (zeros kept)."""
    rows = _rollup_query(
        f, "r.day AS day, r.channel AS channel, SUM(r.total) AS n", group_by="r.day, r.channel"
    )
    counts: dict[tuple[date, str], int] = {
        (rollup.as_date(r["day"]), r["channel"]): int(r["n"]) for r in rows
    }
    out = []
    for i in range(f.days):
        day = f.date_from + timedelta(days=i)
        per = {ch: counts.get((day, ch), 0) for ch in Channel.values}
        out.append({"day": day, **per, "total": sum(per.values())})
    return out


def contacts_by_category(f: ReportFilter) -> list[dict[str, Any]]:
    category = connection.ops.quote_name(Category._meta.db_table)
    rows = _rollup_query(
        f,
        "r.category_id AS category_id, c.name AS name, SUM(r.total) AS n",
        join=f"JOIN {category} AS c ON c.id = r.category_id",
        group_by="r.category_id, c.name",
        order_by="n DESC, c.name",
    )
    for r in rows:
        r["n"] = int(r["n"])
    return rows


# --- Outcomes, speed, deadlines, repeat victims -----------------------------------------------


def summary(f: ReportFilter, speeds: Speeds | None = None) -> dict[str, Any]:
    """The additive figures (outcomes, money, deadlines, repeat victims) from the rollup in
    one query; medians, 90th percentiles and open overdue cases from speeds() (a second
    query unless the caller already has it)."""
    sums = ", ".join(f"SUM(r.{name}) AS {name}" for name in rollup.FIGURES)
    data = _rollup_query(f, sums)[0]
    for name in rollup.FIGURES:
        if name != "money_amount":
            data[name] = int(data[name] or 0)
    data["money_amount"] = rollup.as_money(data["money_amount"])
    speeds = speeds if speeds is not None else speeds_for(f)
    total = data["total"]
    data["open_overdue"] = speeds.open_overdue
    data["outcomes"] = [
        {"value": o.value, "label": str(o.label), "n": data.pop(f"outcome_{o.value}")}
        for o in Outcome
    ]
    data["referred"] = sum(o["n"] for o in data["outcomes"] if o["value"].startswith("referred_"))
    data["first_action_median"], data["first_action_p90"] = speeds.first_action
    data["resolve_median"], data["resolve_p90"] = speeds.resolve
    data["repeat_share"] = _share(data["repeat"], total)
    data["on_time_share"] = _share(data["on_time"], data["due_resolved"])
    data["repeat_days"] = settings.REPEAT_VICTIM_DAYS
    data["percentiles_supported"] = percentiles_supported()
    return data


@dataclass
class Speeds:
    """The figures that do not add up across days, read live from the covering index."""

    first_action: tuple[float | None, float | None] = (None, None)  # median, p90 (s)
    resolve: tuple[float | None, float | None] = (None, None)
    open_overdue: int = 0  # depends on the clock, so never rolled up
    resolve_median_by_assignee: dict[int, float | None] = field(default_factory=dict)


def speeds_for(f: ReportFilter) -> Speeds:
    """One query over the period's cases (index-only on report_case_period_idx): median and
    p90 of time to first action and to resolve, open overdue cases, and each assignee's
    median time to resolve — GROUPING SETS ((), (assignee_id)) on PostgreSQL."""
    if not percentiles_supported():
        n = (
            Case.objects.filter(f.case_q())
            .aggregate(n=Count("id", filter=Q(resolved_at__isnull=True, due_at__lt=Now())))
            .get("n")
        )
        return Speeds(open_overdue=n or 0)
    where, params = ["created_at >= %s", "created_at < %s"], [f.start, f.end]
    if f.channel:
        where.append("channel = %s")
        params.append(f.channel)
    if f.category_id:
        where.append("category_id = %s")
        params.append(f.category_id)
    first = "EXTRACT(EPOCH FROM (first_action_at - created_at))"
    resolve = "EXTRACT(EPOCH FROM (resolved_at - created_at))"
    sql = f"""
        SELECT GROUPING(assignee_id) AS whole, assignee_id,
               percentile_cont(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY {first}),
               percentile_cont(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY {resolve}),
               count(*) FILTER (WHERE resolved_at IS NULL AND due_at < now())
        FROM {Case._meta.db_table}
        WHERE {" AND ".join(where)}
        GROUP BY GROUPING SETS ((), (assignee_id))
    """  # noqa: S608 - table name from the model, values are parameters
    out = Speeds()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for whole, assignee_id, first_p, resolve_p, overdue in cursor.fetchall():
            if whole:
                out.first_action = tuple(first_p or (None, None))  # type: ignore[assignment]
                out.resolve = tuple(resolve_p or (None, None))  # type: ignore[assignment]
                out.open_overdue = overdue
            elif assignee_id is not None:
                out.resolve_median_by_assignee[assignee_id] = resolve_p[0] if resolve_p else None
    return out


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


def specialists(f: ReportFilter, speeds: Speeds | None = None) -> list[dict[str, Any]]:
    """Per assignee: cases in the period and resolved among them (rollup), median time to
    resolve (speeds(), shared with summary() in a full report)."""
    user = connection.ops.quote_name(get_user_model()._meta.db_table)
    rows = _rollup_query(
        f,
        "r.assignee_id AS assignee_id, u.username AS username, u.first_name AS first_name, "
        "u.last_name AS last_name, SUM(r.total) AS handled, SUM(r.resolved) AS resolved",
        join=f"JOIN {user} AS u ON u.id = r.assignee_id",
        group_by="r.assignee_id, u.username, u.first_name, u.last_name",
        order_by="handled DESC, u.username",
    )
    speeds = speeds if speeds is not None else speeds_for(f)
    for r in rows:
        r["handled"], r["resolved"] = int(r["handled"]), int(r["resolved"])
        r["median"] = speeds.resolve_median_by_assignee.get(r["assignee_id"])
        r["name"] = f"{r['first_name']} {r['last_name']}".strip() or r["username"]
    return rows


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
    """Nine queries: by day, by category, the additive summary (rollup), speeds (live:
    percentiles, open overdue, per-specialist medians), two identifier tops, steps, SMS,
    specialists (rollup)."""
    speeds = speeds_for(f)
    return Report(
        filter=f,
        by_day=contacts_by_day(f),
        by_category=contacts_by_category(f),
        summary=summary(f, speeds),
        top_phones=top_identifiers(f, kind=ScammerIdentifier.Kind.PHONE),
        top_senders=top_identifiers(f, kind=ScammerIdentifier.Kind.SENDER),
        steps=step_completion(f),
        sms=sms_summary(f),
        specialists=specialists(f, speeds),
    )
