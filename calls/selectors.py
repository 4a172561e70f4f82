"""Reads of calls and callbacks, each in a fixed number of queries."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

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
