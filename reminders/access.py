"""Access to a case's SMS: through the cases' access module, never a check of its own.

Reading them is seeing the case (an integration: only the cases it opened); scheduling and
cancelling is the `reminders` action (the staff who work the case)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _

from cases.access import CaseAction, access_case
from cases.models import Case

from .models import Reminder


def access_case_reminders(user: Any, case_id: int, *, write: bool = False) -> Case:
    return access_case(
        user,
        case_id,
        for_=CaseAction.REMINDERS if write else CaseAction.VIEW,
        queryset=Case.objects.select_related("subscriber"),
    )


def access_reminder(user: Any, case_id: int, reminder_id: int) -> tuple[Case, Reminder]:
    """A case's SMS, to cancel it: the case as access_case_reminders(write=True), then the SMS
    among that case's own (another case's SMS id answers 404)."""
    case = access_case_reminders(user, case_id, write=True)
    reminder = Reminder.objects.filter(case_id=case.pk, pk=reminder_id).first()
    if reminder is None:
        raise Http404(_("SMS не найдено."))
    return case, reminder
