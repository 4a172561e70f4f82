"""Report figures. Every figure is computed by the database (GROUP BY, aggregates with
FILTER, ordered-set aggregates, EXISTS); nothing loads cases into Python, and each report
is a fixed number of queries whatever the number of cases.

The additive figures (contacts by day and by category, outcomes, money, deadlines, repeat
victims, cases per specialist) come from the daily rollup (reports/rollup.py): one query
fetches the period's per-(day, channel, category, assignee) rows — rollup rows for the
clean days, a live GROUP BY for the days with cases changed since the last refresh — and
the selectors add them up. The figures that do not add up across days come, on
PostgreSQL, from rollups that keep what merging needs: medians and 90th percentiles from
per-(day, assignee) histograms of the exact durations (speeds_for), distinct subscribers
per scammer identifier from per-day subscriber arrays (top_identifiers_by_kind); both are
exactly what the plain queries on the cases give, and the plain queries are used instead
with no rollup, or when live days hold most of the period. Open overdue cases depend on the
clock and are always counted live. A past period's report is cached under an exact key
(report_build). Measurements: bench/RESULTS.md «Reports».

Every query here runs on reader(): the read replica when there is one (DATABASE_REPLICA_URL,
fraudcenter/db_router.py), else the primary; the rollups are written on the primary.

Medians and 90th percentiles use PostgreSQL's percentile_cont; on SQLite (the embedded
development default) they are None and the page says so."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.fields import ArrayField
from django.core.cache import cache
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    Aggregate,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    Subquery,
)
from django.db.models.functions import ExtractHour, Now, TruncDate
from django.utils import timezone

from calls.models import MISSED_CALL, Call, Callback, CallbackAttempt, Direction
from cases.models import Case, CaseIdentifier, Channel, Outcome, ScammerIdentifier, StepOutcome
from fraudcenter.db_router import reports_db_alias
from playbooks.models import Category
from reminders.models import Reminder

from . import rollup
from .filters import MOSCOW, ReportFilter
from .models import CaseDurationRollup, IdentifierDayRollup


def reader() -> BaseDatabaseWrapper:
    """Where every report query runs: the read replica when there is one (reports_db_alias()).
    The live days and the stamp (rollup.live_days) are read there too, so that a report's
    figures and its cache key come from the same, possibly lagging, copy."""
    return connections[reports_db_alias()]


def percentiles_supported() -> bool:
    return reader().vendor == "postgresql"


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


def figure_rows(f: ReportFilter, live: rollup.LiveDays | None = None) -> list[dict[str, Any]]:
    """One query: the period's rows per (Moscow day, channel, category, assignee) with the
    additive figures (rollup.figure_rows: rollup rows for clean days, a live GROUP BY for the
    live days), with the category name and the assignee's names. A month is ~2,500 rows
    (never cases); the selectors below add them up. `live` comes from rollup.live_days()
    (a query of its own when not given)."""
    rows_sql, params = rollup.figure_rows(f, live if live is not None else rollup.live_days(f))
    connection = reader()
    category = connection.ops.quote_name(Category._meta.db_table)
    user = connection.ops.quote_name(get_user_model()._meta.db_table)
    sql = f"""
        SELECT r.*, c.name AS category_name, u.username AS username,
               u.first_name AS first_name, u.last_name AS last_name
        FROM ({rows_sql}) AS r
        JOIN {category} AS c ON c.id = r.category_id
        LEFT JOIN {user} AS u ON u.id = r.assignee_id
    """  # noqa: S608 - table names from the models, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for r in rows:
        r["day"] = rollup.as_date(r["day"])
        r["money_amount"] = rollup.as_money(r["money_amount"])
    return rows


def _rows(f: ReportFilter, rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return rows if rows is not None else figure_rows(f)


# --- Contacts ---------------------------------------------------------------------------------


def contacts_by_day(
    f: ReportFilter, rows: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """One row per Moscow day in the period: the day and a count per channel (zeros kept)."""
    counts: dict[tuple[date, str], int] = defaultdict(int)
    for r in _rows(f, rows):
        counts[(r["day"], r["channel"])] += r["total"]
    out = []
    for i in range(f.days):
        day = f.date_from + timedelta(days=i)
        per = {ch: counts.get((day, ch), 0) for ch in Channel.values}
        out.append({"day": day, **per, "total": sum(per.values())})
    return out


def contacts_by_category(
    f: ReportFilter, rows: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Cases per category, most first (then by name)."""
    out: dict[int, dict[str, Any]] = {}
    for r in _rows(f, rows):
        row = out.setdefault(
            r["category_id"], {"category_id": r["category_id"], "name": r["category_name"], "n": 0}
        )
        row["n"] += r["total"]
    return sorted(out.values(), key=lambda r: (-r["n"], r["name"]))


# --- Outcomes, speed, deadlines, repeat victims -----------------------------------------------


def summary(
    f: ReportFilter, speeds: Speeds | None = None, rows: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The additive figures (outcomes, money, deadlines, repeat victims) summed from
    figure_rows(); medians, 90th percentiles and open overdue cases from speeds_for() (a
    query of its own unless the caller already has it)."""
    data: dict[str, Any] = {name: 0 for name in rollup.FIGURES}
    data["money_amount"] = None
    for r in _rows(f, rows):
        for name in rollup.FIGURES:
            if name == "money_amount":
                if r[name] is not None:
                    data[name] = (data[name] or 0) + r[name]
            else:
                data[name] += r[name]
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


def speeds_for(f: ReportFilter, live: rollup.LiveDays | None = None) -> Speeds:
    """One query: median and p90 of time to first action and to resolve, each assignee's
    median time to resolve, and the open overdue cases.

    With the rollup (PostgreSQL, no channel or category filter): the duration histograms of
    the clean days (CaseDurationRollup) and the durations of the live days' cases are merged
    in the database (GROUP BY GROUPING SETS over the distinct values); only the values at
    the ranks percentile_cont interpolates between come back, and _percentile() interpolates
    exactly as PostgreSQL does. Otherwise: percentile_cont over the period's cases."""
    if not percentiles_supported():
        n = (
            Case.objects.using(reports_db_alias())
            .filter(f.case_q())
            .aggregate(n=Count("id", filter=Q(resolved_at__isnull=True, due_at__lt=Now())))
            .get("n")
        )
        return Speeds(open_overdue=n or 0)
    if f.channel or f.category_id:
        return speeds_live(f)  # the duration rollup has no channel or category
    live = live if live is not None else rollup.live_days(f)
    if _mostly_live(live):
        return speeds_live(f)
    clean, clean_params = rollup.rollup_where(f, live)
    live_cases, changed_params = rollup.live_cases_sql(f, live) or (None, [])
    changed = (
        f"UNION ALL SELECT assignee_id, metric, seconds, 1 "
        f"FROM ({rollup.durations_sql('TRUE', cases=live_cases)}) AS l"
        if live_cases
        else ""
    )
    durations = CaseDurationRollup._meta.db_table
    overdue, overdue_params = _open_overdue_sql(f)
    sql = f"""
        WITH durations AS (
            SELECT r.assignee_id, r.metric, u.seconds, u.n
            FROM {durations} AS r CROSS JOIN LATERAL unnest(r.seconds, r.counts) AS u(seconds, n)
            WHERE {clean}
            {changed}
        ), histogram AS (
            SELECT GROUPING(assignee_id) AS whole, assignee_id, metric, seconds,
                   sum(n)::bigint AS n
            FROM durations
            GROUP BY GROUPING SETS ((metric, seconds), (metric, assignee_id, seconds))
        ), ranked AS (
            SELECT whole, assignee_id, metric, seconds, n,
                   sum(n) OVER (PARTITION BY whole, assignee_id, metric ORDER BY seconds)::bigint
                       AS upto,
                   sum(n) OVER (PARTITION BY whole, assignee_id, metric)::bigint AS total
            FROM histogram
            WHERE whole = 1 OR metric = {int(RESOLVE)}
        )
        SELECT whole, assignee_id, metric, seconds, upto - n, upto, total, NULL
        FROM ranked
        WHERE EXISTS (
            SELECT 1 FROM unnest(ARRAY[0.5, 0.9]::float8[]) AS p
            WHERE floor(p * (total - 1)) < upto AND ceil(p * (total - 1)) >= upto - n
        )
        UNION ALL
        SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, ({overdue})
    """  # noqa: S608 - table names from the models, values are parameters
    groups: dict[tuple[int, int | None, int], list[tuple[float, int, int, int]]] = defaultdict(list)
    out = Speeds()
    with reader().cursor() as cursor:
        cursor.execute(sql, [*clean_params, *changed_params, *overdue_params])
        for whole, assignee_id, metric, seconds, first, upto, total, overdue in cursor.fetchall():
            if overdue is not None:
                out.open_overdue = overdue
            else:
                groups[(whole, assignee_id, metric)].append((seconds, first, upto, total))
    for (whole, assignee_id, metric), values in groups.items():
        if whole:
            pair = (_percentile(values, 0.5), _percentile(values, 0.9))
            if metric == FIRST_ACTION:
                out.first_action = pair
            else:
                out.resolve = pair
        elif assignee_id is not None:
            out.resolve_median_by_assignee[assignee_id] = _percentile(values, 0.5)
    return out


def _mostly_live(live: rollup.LiveDays) -> bool:
    """Whether the plain queries beat the rollups: with no rollup, or when the live days hold
    more than a quarter of the period's cases (a live case read through the rollups' shapes
    costs more than in the plain query; measured at 1 M cases, bench/RESULTS.md
    «Reports»)."""
    return live.days is None or live.live_share > LIVE_SHARE_MAX


LIVE_SHARE_MAX = 0.25


FIRST_ACTION = CaseDurationRollup.Metric.FIRST_ACTION
RESOLVE = CaseDurationRollup.Metric.RESOLVE


def _percentile(values: list[tuple[float, int, int, int]], p: float) -> float:
    """percentile_cont(p) from histogram rows (value, first rank, rank after the last, total)
    that cover the ranks it needs, computed as PostgreSQL does (orderedsetaggs.c:
    first_row = floor(p·(n−1)), second_row = ceil(p·(n−1)), lo + (p·(n−1) − first_row) ·
    (hi − lo)) so that the figure is the same float percentile_cont gives on the cases."""
    total = values[0][3]

    def at(rank: int) -> float:
        return next(v for v, first, upto, _n in values if first <= rank < upto)

    position = p * (total - 1)
    first_row, second_row = math.floor(position), math.ceil(position)
    low = at(first_row)
    if second_row == first_row:
        return low
    return low + (position - first_row) * (at(second_row) - low)


def _open_overdue_sql(f: ReportFilter) -> tuple[str, list[Any]]:
    """Open cases past their deadline (depends on the clock: never rolled up), on the
    partial index report_case_open_idx."""
    where, params = f.case_sql()
    where += ["resolved_at IS NULL", "due_at < now()"]
    return f"SELECT count(*) FROM {Case._meta.db_table} WHERE {' AND '.join(where)}", params


def speeds_live(f: ReportFilter) -> Speeds:
    """speeds_for() straight from the period's cases (index-only on report_case_period_idx):
    percentile_cont with GROUPING SETS ((), (assignee_id)). Used with no rollup, with a
    channel or category filter, when live days hold most of the period, and by the tests
    as the reference."""
    where, params = f.case_sql()
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
    with reader().cursor() as cursor:
        cursor.execute(sql, params)
        for whole, assignee_id, first_p, resolve_p, overdue in cursor.fetchall():
            if whole:
                out.first_action = tuple(first_p or (None, None))
                out.resolve = tuple(resolve_p or (None, None))
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
    connection = reader()
    if connection.vendor != "postgresql" or f.days * 4 <= settings.REPEAT_VICTIM_DAYS:
        earlier_case = Case.objects.filter(
            subscriber_id=OuterRef("subscriber_id"),
            created_at__lt=OuterRef("created_at"),
            created_at__gte=OuterRef("created_at") - window,
        )
        return (
            Case.objects.using(connection.alias)
            .filter(f.case_q())
            .filter(Exists(earlier_case))
            .count()
        )
    outer, params = f.filter_sql()
    outer, params = ["created_at >= %s", *outer], [f.start, *params]
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
        args: list[Any] = [f.start - window, f.end, window, *params]
        cursor.execute(sql, args)
        return cursor.fetchone()[0]


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


# --- Scammer identifiers ----------------------------------------------------------------------


def top_identifiers(f: ReportFilter, *, kind: str, limit: int = 10) -> list[dict[str, Any]]:
    """The most reported identifiers of one kind, by distinct subscribers in the period
    (top_identifiers_by_kind(): from the rollup when there is one)."""
    return top_identifiers_by_kind(f, limit=limit)[kind]


def top_identifiers_live(f: ReportFilter, *, kind: str, limit: int = 10) -> list[dict[str, Any]]:
    """top_identifiers() with the ORM straight from the links and cases: the reference the
    tests compare the rollup with."""
    rows = (
        CaseIdentifier.objects.using(reports_db_alias())
        .filter(f.case_q("case__"), identifier__kind=kind)
        .values("identifier_id", value=F("identifier__value"))
        .annotate(
            subscribers=Count("case__subscriber_id", distinct=True),
            cases=Count("case_id"),
        )
        .order_by("-subscribers", "-cases", "value")[:limit]
    )
    return [dict(row) for row in rows]


def top_identifiers_by_kind(
    f: ReportFilter, live: rollup.LiveDays | None = None, *, limit: int = 10
) -> dict[str, list[dict[str, Any]]]:
    """top_identifiers() for every kind in one query: per kind, the `limit` identifiers with
    the most distinct subscribers, ranked by row_number() over the same order.

    With the rollup (PostgreSQL): the clean days' IdentifierDayRollup rows (cases and the
    distinct subscriber ids per day, channel, category and identifier) plus the live days'
    links; the distinct subscribers of the period are the union of the arrays (exact).
    Without a rollup (or on SQLite): one pass over the period's links and cases."""
    if rollup.arrays_supported():
        live = live if live is not None else rollup.live_days(f)
        if not _mostly_live(live):
            return _top_identifiers_rolled_up(f, live, limit)
    return top_identifiers_live_by_kind(f, limit=limit)


# How many identifiers per kind get their distinct subscribers counted exactly (the rest
# only if the bound cannot rule them out): plenty for heavy-tailed reports.
TOP_CANDIDATES_PER_ROW = 10
TOP_CANDIDATES_MIN = 100


def _top_identifiers_rolled_up(
    f: ReportFilter, live: rollup.LiveDays, limit: int
) -> dict[str, list[dict[str, Any]]]:
    """The tops from the identifier rollup (clean days) and the live days' links, in one
    query that counts distinct subscribers only for candidates: per kind, the
    `candidates` identifiers with the highest bound (the sum of the per-row distinct
    subscribers, never below the period's distinct count). When the `limit`-th of them has
    more subscribers than any identifier outside could have, the top is exact; otherwise
    (a one-time filter decides) the same query counts every identifier instead."""
    clean, clean_params = rollup.rollup_where(f, live)
    live_cases, changed_params = rollup.live_cases_sql(f, live) or (None, [])
    changed = (
        "UNION ALL SELECT kind, identifier_id, cases, subscribers "
        f"FROM ({rollup.identifier_links_sql('TRUE', grouped=False, cases=live_cases)}) AS l"
        if live_cases
        else ""
    )
    candidates = max(TOP_CANDIDATES_PER_ROW * limit, TOP_CANDIDATES_MIN)
    identifiers = ScammerIdentifier._meta.db_table
    sql = f"""
        WITH links AS MATERIALIZED (
            SELECT r.kind, r.identifier_id, r.cases, r.subscribers
            FROM {IdentifierDayRollup._meta.db_table} AS r
            WHERE {clean}
            {changed}
        ), bounded AS (
            SELECT kind, identifier_id, sum(cases) AS cases,
                   sum(cardinality(subscribers)) AS bound,
                   ROW_NUMBER() OVER (
                       PARTITION BY kind ORDER BY sum(cardinality(subscribers)) DESC,
                                                  identifier_id
                   ) AS position
            FROM links GROUP BY kind, identifier_id
        ), exact AS (
            SELECT l.kind, l.identifier_id, count(DISTINCT s) AS subscribers
            FROM links AS l CROSS JOIN LATERAL unnest(l.subscribers) AS s
            WHERE l.identifier_id IN (SELECT identifier_id FROM bounded WHERE position <= %s)
            GROUP BY l.kind, l.identifier_id
        ), ranked AS (
            SELECT e.kind, e.identifier_id, i.value, e.subscribers, b.cases,
                   ROW_NUMBER() OVER (
                       PARTITION BY e.kind ORDER BY e.subscribers DESC, b.cases DESC, i.value
                   ) AS rank
            FROM exact AS e
            JOIN bounded AS b ON b.identifier_id = e.identifier_id AND b.position <= %s
            JOIN {identifiers} AS i ON i.id = e.identifier_id
        ), unsure AS (
            -- The first identifier outside the candidates has the highest bound outside.
            SELECT EXISTS (
                SELECT 1 FROM bounded AS b
                LEFT JOIN ranked AS r ON r.kind = b.kind AND r.rank = %s
                WHERE b.position = %s + 1 AND b.bound >= coalesce(r.subscribers, 0)
            ) AS yes
        ), everything AS (
            SELECT b.kind, b.identifier_id, i.value, d.subscribers, b.cases,
                   ROW_NUMBER() OVER (
                       PARTITION BY b.kind ORDER BY d.subscribers DESC, b.cases DESC, i.value
                   ) AS rank
            FROM bounded AS b
            JOIN (
                SELECT kind, identifier_id, count(*) AS subscribers
                FROM (SELECT DISTINCT kind, identifier_id, s
                      FROM links, unnest(subscribers) AS s) AS pairs
                GROUP BY kind, identifier_id
            ) AS d USING (kind, identifier_id)
            JOIN {identifiers} AS i ON i.id = b.identifier_id
            WHERE (SELECT yes FROM unsure)
        )
        SELECT kind, identifier_id, value, subscribers, cases FROM (
            SELECT * FROM ranked WHERE NOT (SELECT yes FROM unsure)
            UNION ALL
            SELECT * FROM everything
        ) AS top
        WHERE rank <= %s
        ORDER BY kind, rank
    """  # noqa: S608 - table names from the models, values are parameters
    return _tops(
        sql, [*clean_params, *changed_params, candidates, candidates, limit, candidates, limit]
    )


def _tops(sql: str, params: list[Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in ScammerIdentifier.Kind.values}
    with reader().cursor() as cursor:
        cursor.execute(sql, params)
        for kind, identifier_id, value, subscribers, cases in cursor.fetchall():
            out.setdefault(kind, []).append(
                {
                    "identifier_id": identifier_id,
                    "value": value,
                    "subscribers": subscribers,
                    "cases": cases,
                }
            )
    return out


def top_identifiers_live_by_kind(
    f: ReportFilter, *, limit: int = 10
) -> dict[str, list[dict[str, Any]]]:
    """The tops from the period's links and cases (one pass; the reference for the tests)."""
    adapt = reader().ops.adapt_datetimefield_value  # UTC text on SQLite
    where, params = f.case_sql("c")
    params[:2] = [adapt(f.start), adapt(f.end)]
    order = "COUNT(DISTINCT c.subscriber_id) DESC, COUNT(ci.case_id) DESC, i.value"
    sql = f"""
        SELECT kind, identifier_id, value, subscribers, cases FROM (
            SELECT i.kind AS kind, ci.identifier_id AS identifier_id, i.value AS value,
                   COUNT(DISTINCT c.subscriber_id) AS subscribers, COUNT(ci.case_id) AS cases,
                   ROW_NUMBER() OVER (PARTITION BY i.kind ORDER BY {order}) AS rank
            FROM {CaseIdentifier._meta.db_table} AS ci
            JOIN {Case._meta.db_table} AS c ON c.id = ci.case_id
            JOIN {ScammerIdentifier._meta.db_table} AS i ON i.id = ci.identifier_id
            WHERE {" AND ".join(where)}
            GROUP BY i.kind, ci.identifier_id, i.value
        ) AS ranked
        WHERE rank <= %s
        ORDER BY kind, rank
    """  # noqa: S608 - table names from the models, values are parameters
    return _tops(sql, [*params, limit])


# --- Playbook steps ---------------------------------------------------------------------------


def step_completion(f: ReportFilter) -> list[dict[str, Any]]:
    """Per playbook step (category, position, title): how often done, not applicable, refused,
    escalated on the period's cases."""
    results = StepOutcome.Result
    rows = (
        StepOutcome.objects.using(reports_db_alias())
        .filter(f.case_q("case__"))
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
    return [dict(row) for row in rows]


# --- SMS --------------------------------------------------------------------------------------


def sms_summary(f: ReportFilter) -> dict[str, Any]:
    """Follow-up SMS created in the period (for the period's channel/category filters)."""
    q = Q(created_at__gte=f.start, created_at__lt=f.end)
    if f.channel:
        q &= Q(case__channel=f.channel)
    if f.category_id:
        q &= Q(case__category_id=f.category_id)
    s = Reminder.Status
    data = (
        Reminder.objects.using(reports_db_alias())
        .filter(q)
        .aggregate(
            total=Count("id"),
            scheduled=Count("id", filter=Q(status__in=[s.SCHEDULED, s.SENDING])),
            sent=Count("id", filter=Q(status__in=[s.SENT, s.DELIVERED])),
            delivered=Count("id", filter=Q(status=s.DELIVERED)),
            failed=Count("id", filter=Q(status__in=[s.FAILED, s.UNKNOWN])),
            cancelled=Count("id", filter=Q(status=s.CANCELLED)),
            skipped_opt_out=Count("id", filter=Q(status=s.SKIPPED_OPT_OUT)),
            shifted_by_quiet_hours=Count("id", filter=Q(shifted_by_quiet_hours=True)),
        )
    )
    return data


# --- Calls ------------------------------------------------------------------------------------


def calls_summary(f: ReportFilter) -> dict[str, Any]:
    """Calls on 611 that rang in the period (channel and category do not apply to calls):
    inbound answered and missed with their shares, outbound, the median wait of answered
    inbound calls, calls per Moscow day and per hour of the day, and the callbacks opened in
    the period — reached share and the median time to the first attempt. Four queries on
    PostgreSQL (the median wait is percentile_cont over the index range of call_rang_idx);
    SQLite reads the waits once more and takes their median in Python."""
    calls = Call.objects.using(reports_db_alias()).filter(rang_at__gte=f.start, rang_at__lt=f.end)
    inbound = Q(direction=Direction.IN)
    answered = inbound & Q(answered_at__isnull=False)
    missed = MISSED_CALL
    on_pg = percentiles_supported()
    medians = (
        {"wait": Percentiles(_seconds("answered_at", "rang_at"), (0.5,), filter=answered)}
        if on_pg
        else {}
    )
    totals = calls.aggregate(
        inbound=Count("id", filter=inbound),
        answered=Count("id", filter=answered),
        missed=Count("id", filter=missed),
        outbound=Count("id", filter=Q(direction=Direction.OUT)),
        **medians,
    )
    if on_pg:
        median_wait = (totals.pop("wait") or [None])[0]
    else:
        waits = [
            (a - r).total_seconds()
            for a, r in calls.filter(answered).values_list("answered_at", "rang_at")
            if a and r
        ]
        median_wait = statistics.median(waits) if waits else None
    by_day = list(
        calls.annotate(day=TruncDate("rang_at", tzinfo=MOSCOW))
        .values("day")
        .annotate(
            total=Count("id"),
            answered=Count("id", filter=answered),
            missed=Count("id", filter=missed),
        )
        .order_by("day")
    )
    by_hour = {
        r["hour"]: r["total"]
        for r in calls.annotate(hour=ExtractHour("rang_at", tzinfo=MOSCOW))
        .values("hour")
        .annotate(total=Count("id"))
        .order_by()
    }
    # The period's callbacks in one query (a few thousand a month): status and the first
    # attempt's time, added up here.
    first = Subquery(
        CallbackAttempt.objects.filter(callback=OuterRef("pk")).order_by("at").values("at")[:1]
    )
    callbacks = list(
        Callback.objects.using(reports_db_alias())
        .filter(created_at__gte=f.start, created_at__lt=f.end)
        .annotate(first=first)
        .values_list("status", "created_at", "first")
    )
    cb = {
        "total": len(callbacks),
        "reached": sum(1 for status, _c, _f in callbacks if status == Callback.Status.REACHED),
    }
    firsts = [(at - created).total_seconds() for _s, created, at in callbacks if at]
    inbound_total = totals["inbound"] or 0
    return {
        **totals,
        "answered_share": _share(totals["answered"], inbound_total),
        "missed_share": _share(totals["missed"], inbound_total),
        "median_wait": median_wait,
        "by_day": by_day,
        "by_hour": [{"hour": h, "total": by_hour.get(h, 0)} for h in range(24)],
        "callbacks": cb["total"],
        "callbacks_reached_share": _share(cb["reached"], cb["total"]),
        "callbacks_first_attempt_median": statistics.median(firsts) if firsts else None,
    }


# --- Specialists ------------------------------------------------------------------------------


def specialists(
    f: ReportFilter, speeds: Speeds | None = None, rows: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Per assignee: cases in the period and resolved among them (figure_rows()), median
    time to resolve (speeds_for(), shared with summary() in a full report)."""
    out: dict[int, dict[str, Any]] = {}
    for r in _rows(f, rows):
        if r["assignee_id"] is None:
            continue
        row = out.setdefault(
            r["assignee_id"],
            {
                "assignee_id": r["assignee_id"],
                "username": r["username"],
                "first_name": r["first_name"],
                "last_name": r["last_name"],
                "handled": 0,
                "resolved": 0,
            },
        )
        row["handled"] += r["total"]
        row["resolved"] += r["resolved"]
    speeds = speeds if speeds is not None else speeds_for(f)
    result = sorted(out.values(), key=lambda r: (-r["handled"], r["username"]))
    for r in result:
        r["median"] = speeds.resolve_median_by_assignee.get(r["assignee_id"])
        r["name"] = f"{r['first_name']} {r['last_name']}".strip() or r["username"]
    return result


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
    calls: dict[str, Any] = field(default_factory=dict)
    # When the figures were read: a period with today in it is shared for a minute.
    as_of: datetime | None = field(default=None, compare=False)


# Bump when a figure's definition changes: the cached reports of the old code are ignored.
CACHE_VERSION = 1
CACHED_PARTS = ("by_day", "by_category", "summary", "top_phones", "top_senders", "specialists")


def _cache_key(f: ReportFilter, live: rollup.LiveDays) -> str | None:
    """An exact key for the rolled-up parts of the report, or None when some are live:
    with no live day, they are a function of the period's rollup rows and names, which
    live.stamp fingerprints (rollup.LiveDays). The stamp and the figures are read on the
    same alias (reader()): a stamp from the primary beside a lagging replica's figures would
    store stale figures under a current key."""
    if live.days != [] or not live.stamp:
        return None
    return (
        f"reports:{CACHE_VERSION}:{f.date_from}:{f.date_to}:{f.channel}:{f.category_id}:"
        f"{settings.REPEAT_VICTIM_DAYS}:{live.stamp}"
    )


def open_overdue(f: ReportFilter) -> int:
    sql, params = _open_overdue_sql(f)
    with reader().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def report_build(f: ReportFilter) -> Report:
    """The report as of at most REPORTS_LIVE_CACHE_SECONDS ago. A period with live days
    (today, or days the refresh has not caught up with) costs seconds of database time at a
    million cases, and a manager's page is not a live board: the whole report is shared for
    that long under the filter's key, so the managers who open it in that minute cost no
    query (the page says as of when). 0 turns it off."""
    seconds = settings.REPORTS_LIVE_CACHE_SECONDS
    if seconds <= 0:
        return _report_read(f)
    key = (
        f"reports:live:{CACHE_VERSION}:{f.date_from}:{f.date_to}:{f.channel}:"
        f"{f.category_id}:{settings.REPEAT_VICTIM_DAYS}"
    )
    report = cache.get(key)
    if report is None:
        report = _report_read(f)
        cache.set(key, report, seconds)
    return report


def _report_read(f: ReportFilter) -> Report:
    """Six queries: the live days (which days the rollups cannot answer yet), speeds
    (percentiles from the duration rollup + live days, open overdue), the figure rows
    (rollup + live days; by day, by category, summary and specialists are added up from
    them), the identifier tops (both kinds, identifier rollup + live days), steps, SMS.

    A period with no live day (the past, once the refresh has caught up) keeps those parts
    in the cache under an exact key (_cache_key); a hit is four queries: the live days,
    the open overdue cases (they depend on the clock), steps and SMS (not rolled up)."""
    live = rollup.live_days(f)
    key = _cache_key(f, live)
    cached = cache.get(key) if key else None
    if cached is not None:
        parts = cached
        parts["summary"]["open_overdue"] = open_overdue(f)
    else:
        speeds = speeds_for(f, live)
        rows = figure_rows(f, live)
        tops = top_identifiers_by_kind(f, live)
        parts = {
            "by_day": contacts_by_day(f, rows),
            "by_category": contacts_by_category(f, rows),
            "summary": summary(f, speeds, rows),
            "top_phones": tops[ScammerIdentifier.Kind.PHONE],
            "top_senders": tops[ScammerIdentifier.Kind.SENDER],
            "specialists": specialists(f, speeds, rows),
        }
        if key:
            cache.set(key, parts, settings.REPORTS_CACHE_SECONDS)
    return Report(
        filter=f, steps=step_completion(f), sms=sms_summary(f), calls=calls_summary(f),
        as_of=timezone.now(), **parts,
    )  # fmt: skip
