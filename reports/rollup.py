"""The daily rollups of the report figures and how the reports read them: CaseDayRollup
(the additive figures), and on PostgreSQL CaseDurationRollup (duration histograms, for
exact percentiles) and IdentifierDayRollup (cases and subscriber ids per scammer
identifier). All three are written together, day by day, in the same transaction.

Writing: `rollup_rebuild()` recomputes every day (management command
`reports_rollup_rebuild`, and `seed_demo --cases` at the end of a bulk load);
`rollup_refresh()` (beat, every REPORTS_ROLLUP_REFRESH_SECONDS) recomputes only the
Moscow days whose cases changed since the watermark: cases with updated_at at or after
it, plus the later cases of the same subscribers (a case's "repeat victim" flag depends
on the subscriber's earlier cases). A day is recomputed whole, with one
DELETE + INSERT … SELECT … GROUP BY per run of consecutive days (at most
ROLLUP_BATCH_DAYS), so a status change, a reassignment or a late outcome simply moves the
case to its new group. The new watermark is the refresh's start minus
REPORTS_ROLLUP_OVERLAP: a case saved by a transaction that committed after the refresh
read the table still has updated_at past the watermark, so nothing is missed.

Reading (through reports_db_alias(): the read replica when there is one; the writers above
stay on the primary): `live_days(f)` (one query) finds the period's days with a case changed
at or after the watermark (today and the few days whose cases were just worked on, in
practice; every day when there is no watermark yet or a rebuild is under way), with the
period's stamp and per-day counts, and `figure_rows(f, live)` is the SQL of
per-(day, channel, category, assignee) rows for the period: rollup rows for the other days
and the same GROUP BY computed from the cases for the live days. Both halves come from the same
`case_figures()` expressions, so the figures equal the live computation exactly. The
watermark, the stamp and the figures of one report are read on the same alias: a replica
lags, and live days or a stamp from the primary beside figures from the replica would let
a stale report pass (and be cached) as current."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from cases.models import Case, CaseIdentifier, Outcome, ScammerIdentifier
from fraudcenter.db_router import reports_db_alias
from playbooks.models import Category

from .filters import MOSCOW, ReportFilter
from .models import CaseDayRollup, CaseDurationRollup, IdentifierDayRollup, RollupState

GROUP = ("day", "channel", "category_id", "assignee_id")
FIGURES = (
    "total",
    "code_disclosed",
    "money_lost",
    "money_amount",
    "resolved",
    "due_resolved",
    "on_time",
    "repeat",
    *(f"outcome_{o}" for o in Outcome.values),
)
ROLLUP_BATCH_DAYS = 31
SUBSCRIBER_BATCH = 5000


def moscow_day() -> TruncDate:
    return TruncDate("created_at", tzinfo=MOSCOW)


def _earlier_case() -> QuerySet:
    """The subscriber's previous case at most REPEAT_VICTIM_DAYS before this one."""
    window = timedelta(days=settings.REPEAT_VICTIM_DAYS)
    return Case.objects.filter(
        subscriber_id=OuterRef("subscriber_id"),
        created_at__lt=OuterRef("created_at"),
        created_at__gte=OuterRef("created_at") - window,
    )


def case_figures() -> dict[str, Any]:
    """The additive figures of a group of cases: what the rollup stores per row."""
    return {
        "total": Count("id"),
        "code_disclosed": Count("id", filter=Q(code_disclosed=True)),
        "money_lost": Count("id", filter=Q(money_lost=True)),
        "money_amount": Sum("money_amount"),
        "resolved": Count("id", filter=Q(resolved_at__isnull=False)),
        "due_resolved": Count("id", filter=Q(resolved_at__isnull=False, due_at__isnull=False)),
        "on_time": Count("id", filter=Q(resolved_at__lte=F("due_at"))),
        "repeat": Count("id", filter=Exists(_earlier_case())),
        **{f"outcome_{o}": Count("id", filter=Q(outcome=o)) for o in Outcome.values},
    }


def grouped_cases(cases: QuerySet) -> QuerySet:
    """`cases` grouped by (Moscow day, channel, category, assignee) with case_figures()."""
    return cases.annotate(day=moscow_day()).values(*GROUP).annotate(**case_figures()).order_by()


def _columns(qs: QuerySet) -> tuple[str, list[Any]]:
    """SELECT GROUP + FIGURES from `qs` in that column order, whatever order Django chose."""
    sql, params = qs.query.sql_with_params()
    return f"SELECT {', '.join(GROUP + FIGURES)} FROM ({sql}) AS g", list(params)


# --- Writing ----------------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=MOSCOW)


def _runs(days: Iterable[date], longest: int | None = ROLLUP_BATCH_DAYS) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days, each at most `longest` days long."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if (
            runs
            and day - runs[-1][1] == timedelta(days=1)
            and (longest is None or (day - runs[-1][0]).days < longest)
        ):
            runs[-1] = (runs[-1][0], day)
            continue
        runs.append((day, day))
    return runs


# --- The PostgreSQL-only rollups: durations (percentiles) and scammer identifiers ----------
#
# Raw SQL over alias `c` for cases_case: both the INSERT of a run of days and the reports'
# reading of the live days use these SELECTs, so the two halves of a figure are computed
# the same way. The Moscow day is the expression TruncDate("created_at", MOSCOW) compiles to.

CASES = Case._meta.db_table
LINKS = CaseIdentifier._meta.db_table
IDENTIFIERS = ScammerIdentifier._meta.db_table
DAY_SQL = "(c.created_at AT TIME ZONE 'Europe/Moscow')::date"
# Each duration as percentile_cont sees it: EXTRACT(EPOCH ...) cast to float8.
DURATION_SQL = {
    metric: f"EXTRACT(EPOCH FROM (c.{column} - c.created_at))"
    for metric, column in (
        (CaseDurationRollup.Metric.FIRST_ACTION, "first_action_at"),
        (CaseDurationRollup.Metric.RESOLVE, "resolved_at"),
    )
}


def arrays_supported() -> bool:
    return connection.vendor == "postgresql"


def durations_sql(where: str, cases: str = CASES) -> str:
    """(assignee, metric, seconds, day) of every duration of the cases `c` (of `cases`, the
    table or a subquery) matching `where` (NULL durations left out): one row per case and
    metric."""
    values = ", ".join(f"({int(m)}, ({sql})::float8)" for m, sql in DURATION_SQL.items())
    return f"""
        SELECT c.assignee_id, d.metric, d.seconds, {DAY_SQL} AS day
        FROM {cases} AS c CROSS JOIN LATERAL (VALUES {values}) AS d(metric, seconds)
        WHERE ({where}) AND d.seconds IS NOT NULL
    """  # noqa: S608 - table names from the models, values are parameters


def identifier_links_sql(where: str, *, grouped: bool = True, cases: str = CASES) -> str:
    """(day, channel, category, kind, identifier, cases, subscribers[]) of the links of the
    cases `c` (of `cases`, the table or a subquery) matching `where`, per group; with
    grouped=False, one row per link (1, ARRAY[subscriber]) — the same sums and unions,
    without the GROUP BY's sort."""
    if not grouped:
        # From each case to its few links by case_identifier_unique (OFFSET 0 keeps the
        # subquery a per-case probe): the planner would rather hash the whole link table.
        return f"""
            SELECT {DAY_SQL} AS day, c.channel, c.category_id, i.kind, ci.identifier_id,
                   1 AS cases, ARRAY[c.subscriber_id] AS subscribers
            FROM {cases} AS c
            CROSS JOIN LATERAL (
                SELECT l.identifier_id FROM {LINKS} AS l WHERE l.case_id = c.id OFFSET 0
            ) AS ci
            JOIN {IDENTIFIERS} AS i ON i.id = ci.identifier_id
            WHERE {where}
        """  # noqa: S608 - table names from the models, values are parameters
    return f"""
        SELECT {DAY_SQL} AS day, c.channel, c.category_id, i.kind, ci.identifier_id,
               count(*) AS cases, array_agg(DISTINCT c.subscriber_id) AS subscribers
        FROM {LINKS} AS ci
        JOIN {CASES} AS c ON c.id = ci.case_id
        JOIN {IDENTIFIERS} AS i ON i.id = ci.identifier_id
        WHERE {where}
        GROUP BY 1, 2, 3, 4, 5
    """  # noqa: S608 - table names from the models, values are parameters


def _recompute(first: date, last: date) -> None:
    """Replace the rollup rows of the days first..last with a fresh GROUP BY."""
    start, end = _day_start(first), _day_start(last + timedelta(days=1))
    CaseDayRollup.objects.filter(day__gte=first, day__lte=last).delete()
    cases = Case.objects.filter(created_at__gte=start, created_at__lt=end)
    select, params = _columns(grouped_cases(cases))
    table = connection.ops.quote_name(CaseDayRollup._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({', '.join(GROUP + FIGURES)}) {select}", params)
    if not arrays_supported():
        return
    CaseDurationRollup.objects.filter(day__gte=first, day__lte=last).delete()
    IdentifierDayRollup.objects.filter(day__gte=first, day__lte=last).delete()
    period = "c.created_at >= %s AND c.created_at < %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {CaseDurationRollup._meta.db_table}
                (day, assignee_id, metric, seconds, counts)
            SELECT day, assignee_id, metric,
                   array_agg(seconds ORDER BY seconds), array_agg(n ORDER BY seconds)
            FROM (
                SELECT day, assignee_id, metric, seconds, count(*) AS n
                FROM ({durations_sql(period)}) AS d
                GROUP BY day, assignee_id, metric, seconds
            ) AS g
            GROUP BY day, assignee_id, metric
            """,  # noqa: S608
            [start, end],
        )
        cursor.execute(
            f"""
            INSERT INTO {IdentifierDayRollup._meta.db_table}
                (day, channel, category_id, kind, identifier_id, cases, subscribers)
            {identifier_links_sql(period)}
            """,  # noqa: S608
            [start, end],
        )


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _overlap() -> timedelta:
    return timedelta(seconds=settings.REPORTS_ROLLUP_OVERLAP_SECONDS)


def _lock_state() -> RollupState | None:
    """Serialize the writers: a refresh holds the state row for its whole transaction and
    each rebuild batch takes it too, so two writers never DELETE + INSERT the same day at
    once (that would duplicate its rows under READ COMMITTED)."""
    return RollupState.objects.select_for_update().filter(pk=1).first()


def rollup_rebuild() -> int:
    """Recompute every day that has cases; returns the number of days. Each batch of days
    is its own transaction; until the last, the state says `rebuilding` so that the
    reports count every day live (the rollups are partly empty meanwhile); the watermark
    is set when all are done."""
    started = timezone.now()
    bounds = Case.objects.aggregate(first=Min("created_at"))
    with transaction.atomic():
        _lock_state()
        RollupState.objects.filter(pk=1).update(rebuilding=True, refreshed_at=started)
        for model in (CaseDayRollup, CaseDurationRollup, IdentifierDayRollup):
            model.objects.all().delete()
    days = 0
    if bounds["first"] is not None:
        first = bounds["first"].astimezone(MOSCOW).date()
        last = started.astimezone(MOSCOW).date()
        day = first
        while day <= last:
            end = min(day + timedelta(days=ROLLUP_BATCH_DAYS - 1), last)
            with transaction.atomic():
                _lock_state()
                _recompute(day, end)
            days += (end - day).days + 1
            day = end + timedelta(days=1)
    RollupState.objects.update_or_create(
        pk=1,
        defaults={
            "watermark": started - _overlap(),
            "refreshed_at": timezone.now(),
            "days_refreshed": days,
            "rebuilding": False,
        },
    )
    return days


def dirty_days(since: datetime) -> set[date]:
    """Moscow days whose figures may have changed since `since`: the days of the cases
    changed since then (report_case_changed_idx, index-only) and of their subscribers'
    later cases within the repeat window (case_subscriber_idx, per subscriber)."""
    changed = list(
        Case.objects.filter(updated_at__gte=since).values_list("subscriber_id", "created_at")
    )
    if not changed:
        return set()
    days = {created.astimezone(MOSCOW).date() for _, created in changed}
    first = min(created for _, created in changed)
    last = max(created for _, created in changed) + timedelta(days=settings.REPEAT_VICTIM_DAYS)
    subscribers = sorted({subscriber for subscriber, _ in changed})
    for i in range(0, len(subscribers), SUBSCRIBER_BATCH):
        later = Case.objects.filter(
            subscriber_id__in=subscribers[i : i + SUBSCRIBER_BATCH],
            created_at__gt=first,
            created_at__lte=last,
        ).values_list("created_at", flat=True)
        days.update(created.astimezone(MOSCOW).date() for created in later)
    return days


REBUILD_STALE = timedelta(hours=1)


def rollup_refresh() -> int:
    """Recompute the days changed since the watermark (a full rebuild when there is none);
    returns the number of days recomputed. Concurrent refreshes wait on the state row. While
    a rebuild runs, the refresh leaves it alone; a rebuild that has not finished within
    REBUILD_STALE (its process died) is started again."""
    with transaction.atomic():
        state = _lock_state()
        if state is not None and state.rebuilding:
            if timezone.now() - state.refreshed_at < REBUILD_STALE:
                return 0
        elif state is not None:
            started = timezone.now()
            days = dirty_days(state.watermark)
            for first, last in _runs(days):
                _recompute(first, last)
            state.watermark = started - _overlap()
            state.refreshed_at = timezone.now()
            state.days_refreshed = len(days)
            state.save()
            return len(days)
    return rollup_rebuild()


# --- Reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveDays:
    """The days of a report period counted live from the cases: `days` (sorted), or every
    day when `days` is None (nothing rolled up yet, or a rebuild is under way).

    `stamp` (PostgreSQL, None otherwise) changes whenever anything the rolled-up figures of
    the period are made of may have changed: the number and the highest id of the period's
    CaseDayRollup rows (a recomputed day gets new rows from the sequence, in the same
    transaction as its duration and identifier rows) and the names shown beside the
    figures (categories, users). With no live day, (filters, stamp) is an exact cache key
    for those figures (selectors.report_build)."""

    days: list[date] | None
    stamp: str | None = None
    # The live days' share of the period's cases, by the rollup's (possibly stale) counts:
    # the selectors read mostly-live periods with the plain queries, cheaper per case.
    live_share: float = 1.0


def _stamp_sql(f: ReportFilter) -> tuple[str, list[Any]]:
    rollup = CaseDayRollup._meta.db_table
    category = Category._meta.db_table
    user = get_user_model()._meta.db_table
    sql = f"""
        SELECT concat_ws(':', count(*), max(id),
            (SELECT md5(string_agg(id || '=' || name, ',' ORDER BY id)) FROM {category}),
            (SELECT md5(string_agg(
                id || '=' || username || '=' || first_name || '=' || last_name, ',' ORDER BY id
             )) FROM {user}))
        FROM {rollup} WHERE day >= %s AND day <= %s
    """  # noqa: S608 - table names from the models, values are parameters
    return sql, [f.date_from, f.date_to]


def live_days(f: ReportFilter) -> LiveDays:
    """One query: the Moscow days in the period with a case changed at or after the
    watermark (report_case_changed_idx), a marker row when there is no watermark or a
    rebuild is under way, the rollup's case count per day, and (PostgreSQL) the period's
    stamp; on reports_db_alias(), where the report's figures are read too."""
    state = RollupState.objects.filter(pk=1)
    changed, params = (
        Case.objects.filter(
            created_at__gte=f.start,
            created_at__lt=f.end,
            updated_at__gte=Subquery(state.values("watermark")),
        )
        .annotate(day=moscow_day())
        .values("day")
        .distinct()
        .order_by()
        .query.sql_with_params()
    )
    reader = connections[reports_db_alias()]
    table = reader.ops.quote_name(RollupState._meta.db_table)
    parts = [
        f"SELECT 'day', day, NULL FROM ({changed}) AS c",
        f"SELECT 'all', NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE NOT rebuilding)",  # noqa: E501, S608
    ]
    rollup_table = reader.ops.quote_name(CaseDayRollup._meta.db_table)
    parts.append(
        f"SELECT 'total', day, CAST(sum(total) AS TEXT) FROM {rollup_table} "  # noqa: S608
        "WHERE day >= %s AND day <= %s GROUP BY day"
    )
    params = (*params, f.date_from, f.date_to)
    if arrays_supported():
        stamp_sql, stamp_params = _stamp_sql(f)
        parts.append(f"SELECT 'stamp', NULL, ({stamp_sql})")
        params += tuple(stamp_params)
    with reader.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    if any(tag == "all" for tag, _day, _value in rows):
        return LiveDays(None)
    days = sorted({_as_date(day) for tag, day, _value in rows if tag == "day"})
    stamp = next((value for tag, _day, value in rows if tag == "stamp"), None)
    totals = {_as_date(day): int(value) for tag, day, value in rows if tag == "total"}
    everything = sum(totals.values())
    share = sum(totals.get(day, 0) for day in days) / everything if everything else 0.0
    return LiveDays(days, stamp, share)


def figure_rows(f: ReportFilter, live: LiveDays) -> tuple[str, list[Any]]:
    """SQL (and parameters) of the rows (GROUP + FIGURES) for the period and filters: the
    rollup for the clean days, and the same GROUP BY computed from the cases (range scans
    of report_case_period_idx) for the live days.

    A changed case only changes its own day's figures (a repeat flag depends on the
    subscriber's earlier cases, whose creation time and subscriber do not change), so the
    days of the changed cases are enough here. A case inserted with a past creation time
    outside the services (a bulk load) shows from the next refresh, which also recomputes
    the later days of its subscriber."""
    parts: list[tuple[str, list[Any]]] = []
    if live.days is None:
        parts.append(_columns(grouped_cases(Case.objects.filter(f.case_q()))))
    else:
        rollup = CaseDayRollup.objects.filter(day__gte=f.date_from, day__lte=f.date_to)
        if f.channel:
            rollup = rollup.filter(channel=f.channel)
        if f.category_id:
            rollup = rollup.filter(category_id=f.category_id)
        if live.days:
            rollup = rollup.exclude(day__in=live.days)
        parts.append(_columns(rollup.values(*GROUP, *FIGURES)))
        # One simple range per run of live days: index-only range scans (see live_cases_sql).
        for first, last in _runs(live.days, longest=None):
            run = Q(
                created_at__gte=_day_start(first),
                created_at__lt=_day_start(last + timedelta(days=1)),
            )
            parts.append(_columns(grouped_cases(Case.objects.filter(f.case_q()).filter(run))))
    return " UNION ALL ".join(sql for sql, _ in parts), [p for _, ps in parts for p in ps]


def as_date(value: date | str) -> date:
    return _as_date(value)


def as_money(value: Any) -> Decimal | None:
    """A SUM of money_amount as the ORM returns it (SQLite sums to a float)."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.01"))


def rollup_where(f: ReportFilter, live: LiveDays, alias: str = "r") -> tuple[str, list[Any]]:
    """WHERE (and parameters) of a rollup table's rows for the period's clean days and the
    filters. Only for a LiveDays with days (not None)."""
    where, params = f.filter_sql(alias)
    where = [f"{alias}.day >= %s", f"{alias}.day <= %s", *where]
    params = [f.date_from, f.date_to, *params]
    if live.days:
        where.append(f"NOT ({alias}.day = ANY(%s))")
        params.append(list(live.days))
    return " AND ".join(where), params


LIVE_COLUMNS = (
    "id, created_at, channel, category_id, assignee_id, subscriber_id, first_action_at, resolved_at"
)


def live_cases_sql(f: ReportFilter, live: LiveDays) -> tuple[str, list[Any]] | None:
    """A subquery of the cases of the live days with the filters (the columns the rollups
    are made of), or None when no day is live: one simple range per run of live days,
    joined by UNION ALL, so that each is an index-only range scan of report_case_period_idx
    (an OR of ranges would be a bitmap scan that reads the heap)."""
    parts, params = [], []
    for first, last in _runs(live.days or [], longest=None):
        where, run_params = f.case_sql(
            start=_day_start(first), end=_day_start(last + timedelta(days=1))
        )
        params += run_params
        parts.append(f"SELECT {LIVE_COLUMNS} FROM {CASES} WHERE {' AND '.join(where)}")  # noqa: S608
    if not parts:
        return None
    return f"({' UNION ALL '.join(parts)})", params
