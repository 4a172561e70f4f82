"""Reads of calls and callbacks, each in a fixed number of queries."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Case as SqlCase
from django.db.models import Count, IntegerField, Prefetch, QuerySet, Value, When

from .models import CALLBACK_OPEN, MISSED_CALL, Call, Callback, CallbackAttempt

MOSCOW = ZoneInfo("Europe/Moscow")  # the center's days, as the reports count them


def open_callbacks(*, limit: int = 200) -> list[Callback]:
    """Open and escalated callbacks, the earliest deadline first (index callback_queue_idx),
    with subscriber, assignee, calls and attempts (three queries)."""
    return list(
        Callback.objects.filter(status__in=CALLBACK_OPEN)
        .select_related("subscriber", "assignee")
        .prefetch_related(
            Prefetch("calls", queryset=Call.objects.order_by("-rang_at")),
            Prefetch(
                "attempts", queryset=CallbackAttempt.objects.select_related("actor").order_by("at")
            ),
        )
        .order_by("due_at", "pk")[:limit]
    )


def calls_list(
    *,
    msisdn: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    missed: bool | None = None,
) -> QuerySet[Call]:
    """The call log, filtered: by the subscriber's number (E.164), by Moscow days (rang in
    [date_from, date_to]), missed or not; newest first by the caller's pagination."""
    calls = Call.objects.select_related("subscriber", "answered_by")
    if msisdn:
        calls = calls.filter(msisdn=msisdn)
    if date_from:
        calls = calls.filter(rang_at__gte=datetime.combine(date_from, time.min, MOSCOW))
    if date_to:
        end = datetime.combine(date_to + timedelta(days=1), time.min, MOSCOW)
        calls = calls.filter(rang_at__lt=end)
    if missed is True:
        calls = calls.filter(MISSED_CALL)
    elif missed is False:
        calls = calls.exclude(MISSED_CALL)
    return calls


def queue_callbacks(*, limit: int = 50) -> list[Callback]:
    """The queue board's callbacks: open and escalated, escalated first, then the earliest
    deadline; with subscriber, assignee and the number of attempts (one query)."""
    return list(
        Callback.objects.filter(status__in=CALLBACK_OPEN)
        .select_related("subscriber", "assignee")
        .annotate(
            n_attempts=Count("attempts"),
            escalated_first=SqlCase(
                When(status=Callback.Status.ESCALATED, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
        )
        .order_by("escalated_first", "due_at", "pk")[:limit]
    )
