"""Reads of calls and callbacks, each in a fixed number of queries."""

from __future__ import annotations

from django.db.models import Case as SqlCase
from django.db.models import Count, IntegerField, Prefetch, QuerySet, Value, When

from .models import Call, Callback, CallbackAttempt


def open_callbacks(*, limit: int = 200) -> list[Callback]:
    """Open and escalated callbacks, the earliest deadline first (index callback_queue_idx),
    with subscriber, assignee, calls and attempts (three queries)."""
    return list(
        Callback.objects.filter(status__in=[Callback.Status.OPEN, Callback.Status.ESCALATED])
        .select_related("subscriber", "assignee")
        .prefetch_related(
            Prefetch("calls", queryset=Call.objects.order_by("-rang_at")),
            Prefetch(
                "attempts", queryset=CallbackAttempt.objects.select_related("actor").order_by("at")
            ),
        )
        .order_by("due_at", "pk")[:limit]
    )


def calls_list() -> QuerySet[Call]:
    return Call.objects.select_related("subscriber", "answered_by")


def queue_callbacks(*, limit: int = 50) -> list[Callback]:
    """The queue board's callbacks: open and escalated, escalated first, then the earliest
    deadline; with subscriber, assignee and the number of attempts (one query)."""
    return list(
        Callback.objects.filter(status__in=[Callback.Status.OPEN, Callback.Status.ESCALATED])
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
