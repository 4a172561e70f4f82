"""Reads for the case page and the API."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Reminder

CANCELLABLE = (Reminder.Status.SCHEDULED,)


def reminders_for_case(*, case_id: int, limit: int = 200) -> QuerySet[Reminder]:
    """A case's reminders, oldest first, with status and part count: one query.

    The case page shows `get_status_display()`, `parts`, `len(text)`, `send_after`,
    `shifted_by_quiet_hours`, `last_error`; `is_cancellable` says whether to offer «Отменить»."""
    return (
        Reminder.objects.filter(case_id=case_id)
        .select_related("created_by", "step")
        .order_by("send_after", "id")[:limit]
    )


def reminder_is_cancellable(reminder: Reminder) -> bool:
    return reminder.status in CANCELLABLE


def reminder_get_for_case(*, case_id: int, reminder_id: int) -> Reminder | None:
    return Reminder.objects.filter(case_id=case_id, pk=reminder_id).first()


def reminders_needing_attention(*, limit: int = 100) -> QuerySet[Reminder]:
    """ "unknown" reminders (worker died mid-send): for a supervisor to check with the gateway."""
    return (
        Reminder.objects.filter(status=Reminder.Status.UNKNOWN)
        .select_related("case")
        .order_by("claimed_at")[:limit]
    )
