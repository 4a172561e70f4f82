"""The daily rollup of the additive report figures (CaseDayRollup) and how the reports
read it.

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
practice; every day when there is no watermark yet), and `figure_rows(f, live)` is the SQL of
per-(day, channel, category, assignee) rows for the period: rollup rows for the other days
and the same GROUP BY computed from the cases for the live days. Both halves come from the same
`case_figures()` expressions, so the figures equal the live computation exactly."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from cases.models import Case, Outcome
from fraudcenter.db_router import reports_db_alias

from .filters import MOSCOW, ReportFilter
from .models import CaseDayRollup, RollupState

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


def _recompute(first: date, last: date) -> None:
    """Replace the rollup rows of the days first..last with a fresh GROUP BY."""
    CaseDayRollup.objects.filter(day__gte=first, day__lte=last).delete()
    cases = Case.objects.filter(
        created_at__gte=_day_start(first), created_at__lt=_day_start(last + timedelta(days=1))
    )
    select, params = _columns(grouped_cases(cases))
    table = connection.ops.quote_name(CaseDayRollup._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({', '.join(GROUP + FIGURES)}) {select}", params)


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
    is its own transaction; the watermark is set when all are done."""
    started = timezone.now()
    bounds = Case.objects.aggregate(first=Min("created_at"))
    with transaction.atomic():
        _lock_state()
        CaseDayRollup.objects.all().delete()
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


def rollup_refresh() -> int:
    """Recompute the days changed since the watermark (a full rebuild when there is none);
    returns the number of days recomputed. Concurrent refreshes wait on the state row."""
    with transaction.atomic():
        state = _lock_state()
        if state is not None:
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
    day when `days` is None (nothing rolled up yet, or a rebuild is under way)."""

    days: list[date] | None


def live_days(f: ReportFilter) -> LiveDays:
    """One query: the Moscow days in the period with a case changed at or after the
    watermark (report_case_changed_idx), or a NULL row when there is no watermark."""
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
    sql = f"SELECT day FROM ({changed}) AS c UNION ALL SELECT NULL WHERE NOT EXISTS (SELECT 1 FROM {table})"  # noqa: E501, S608
    with reader.cursor() as cursor:
        cursor.execute(sql, params)
        days = [row[0] for row in cursor.fetchall()]
    if any(d is None for d in days):
        return LiveDays(None)
    return LiveDays(sorted({_as_date(d) for d in days}))


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
        if live.days:
            ranges = Q()
            for first, last in _runs(live.days, longest=None):
                ranges |= Q(
                    created_at__gte=_day_start(first),
                    created_at__lt=_day_start(last + timedelta(days=1)),
                )
            parts.append(_columns(grouped_cases(Case.objects.filter(f.case_q()).filter(ranges))))
    return " UNION ALL ".join(sql for sql, _ in parts), [p for _, ps in parts for p in ps]


def as_date(value: date | str) -> date:
    return _as_date(value)


def as_money(value: Any) -> Decimal | None:
    """A SUM of money_amount as the ORM returns it (SQLite sums to a float)."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.01"))
