"""Personal data lifecycle: closed cases older than PD_RETENTION_DAYS are anonymised.

What goes: the subscriber's name and number (once ALL their cases are anonymised), every
free text written about the case (summary, description, timeline texts, chat messages, step
notes, SMS texts, stored API responses) and the values in the audit log entries of those rows.
What stays: categories, channels, statuses, outcomes, triage flags, money amounts, every
timestamp and deadline, assignees, the scammer identifiers and their links, event kinds, the
rows themselves (a subscriber keeps its id, time zone and opt-out). So every figure in
reports/selectors.py is the same after anonymisation as before.

Writes here use QuerySet.update() and bulk_update(), which bypass django-auditlog (see
/work/shared/STACK.md): that is intended, the point is to remove the data, not to record it
once more in a new log entry. Each batch writes one log line with counts only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import CharField, Exists, OuterRef, QuerySet, Value
from django.db.models.functions import Cast, Concat, LPad
from django.utils import timezone

from reminders.models import Reminder

from .models import (
    Case,
    CaseEvent,
    ChatMessage,
    IdempotencyKey,
    IdentifierSuggestion,
    Status,
    StepOutcome,
    Subscriber,
)

logger = structlog.get_logger(__name__)

REDACTED = "[данные удалены]"
# "+7000" + the id on 10 digits: never a dialable Russian number (no code starts with 0), so
# it cannot collide with a real subscriber, and it is unique because the id is. It still
# loads through PhoneNumberField (as an invalid number) and fits E.164's 15 digits.
MSISDN_PLACEHOLDER_PREFIX = "+7000"
MSISDN_PLACEHOLDER_DIGITS = 10
# Free-text fields inside CaseEvent.data: case_update's diff of summary/description.
_FREE_TEXT_FIELDS = ("summary", "description")


def msisdn_placeholder(subscriber_id: int) -> str:
    return f"{MSISDN_PLACEHOLDER_PREFIX}{subscriber_id:0{MSISDN_PLACEHOLDER_DIGITS}d}"


@dataclass
class RetentionResult:
    cases: int = 0
    subscribers: int = 0
    batches: int = 0
    dry_run: bool = False


def retention_cutoff(*, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.PD_RETENTION_DAYS)


def cases_expired(*, cutoff: datetime) -> QuerySet[Case]:
    """Closed before the cutoff and not yet anonymised (the partial index case_retention_idx)."""
    return Case.objects.filter(
        status=Status.CLOSED, closed_at__lt=cutoff, anonymised_at__isnull=True
    ).order_by("closed_at", "id")


def _subscribers_ready(ids: set[int]) -> QuerySet[Subscriber]:
    """Of these subscribers, those not anonymised yet whose every case is."""
    pending_case = Case.objects.filter(subscriber_id=OuterRef("pk"), anonymised_at__isnull=True)
    return Subscriber.objects.filter(pk__in=ids, anonymised_at__isnull=True).exclude(
        Exists(pending_case)
    )


def _scrub_event_data(data: Any) -> Any:
    changes = data.get("changes") if isinstance(data, dict) else None
    if not isinstance(changes, dict):
        return data
    scrubbed = {
        k: [REDACTED, REDACTED] if k in _FREE_TEXT_FIELDS else v for k, v in changes.items()
    }
    return {**data, "changes": scrubbed}


def _update_json_grouped(
    model: type[models.Model], field: str, values: dict[int, Any], **fixed: Any
) -> None:
    """Set field per row, one UPDATE per distinct value. The scrubbed values repeat (an
    audit entry's blanked changes depend only on which fields changed), so this is a handful
    of set-based UPDATEs where bulk_update() would build a CASE over every row in Python
    (measured: 11 s → 1.9 s a batch of 1,000 cases, bench/RESULTS.md)."""
    groups: dict[str, tuple[Any, list[int]]] = {}
    for pk, value in values.items():
        key = json.dumps(value, sort_keys=True)
        groups.setdefault(key, (value, []))[1].append(pk)
    for value, pks in groups.values():
        model._default_manager.filter(pk__in=pks).update(**{field: value}, **fixed)


def _scrub_audit_log(*, model: type, ids: list[int]) -> int:
    """Keep the entries (who, when, which action, which fields); blank every value."""
    if not ids:
        return 0
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(model), object_id__in=ids
    )
    changes = {}
    for pk, old in entries.values_list("pk", "changes").iterator(chunk_size=2000):
        fields = sorted(old) if isinstance(old, dict) else []
        changes[pk] = {field: [REDACTED, REDACTED] for field in fields} or None
    _update_json_grouped(
        LogEntry, "changes", changes,
        object_repr=REDACTED, changes_text="", serialized_data=None, additional_data=None,
    )  # fmt: skip
    return len(changes)


@transaction.atomic
def cases_anonymise_batch(*, cutoff: datetime, batch_size: int) -> tuple[int, int]:
    """Anonymise up to batch_size expired cases and the subscribers left with nothing else.

    Returns (cases, subscribers) anonymised; (0, 0) when no expired case is left (or every
    remaining one is claimed by a concurrent run)."""
    now = timezone.now()
    # SKIP LOCKED: two runs at once (a manual command during the nightly job) take disjoint
    # batches instead of waiting or processing a case twice. A case being edited right now is
    # skipped until the next run. (SQLite ignores it: IMMEDIATE transactions serialise.)
    ids = list(
        cases_expired(cutoff=cutoff)
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)[:batch_size]
    )
    if not ids:
        return 0, 0
    subscriber_ids = set(
        Case.objects.filter(pk__in=ids)
        .order_by()
        .values_list("subscriber_id", flat=True)
        .distinct()
    )
    # Lock the subscribers, in id order so two runs cannot deadlock. A concurrent run that
    # anonymised another case of the same subscriber then waits for our commit and sees our
    # cases anonymised when it checks (and vice versa): the last of them anonymises the
    # subscriber, never neither.
    list(
        Subscriber.objects.filter(pk__in=subscriber_ids)
        .order_by("pk")
        .select_for_update()
        .values_list("pk", flat=True)
    )

    # update(): bypasses auditlog on purpose (module docstring); updated_at is left alone.
    Case.objects.filter(pk__in=ids).update(summary=REDACTED, description="", anonymised_at=now)
    CaseEvent.objects.filter(case_id__in=ids).exclude(text="").update(text="")
    updated_events = CaseEvent.objects.filter(case_id__in=ids, kind=CaseEvent.Kind.UPDATED)
    _update_json_grouped(
        CaseEvent,
        "data",
        {pk: _scrub_event_data(data) for pk, data in updated_events.values_list("pk", "data")},
    )
    ChatMessage.objects.filter(case_id__in=ids).update(text="")
    # Found in the texts, not added: as personal as the texts.
    IdentifierSuggestion.objects.filter(case_id__in=ids).delete()
    step_ids = list(StepOutcome.objects.filter(case_id__in=ids).values_list("id", flat=True))
    StepOutcome.objects.filter(pk__in=step_ids).exclude(note="").update(note="")
    # The SMS text names the case; a gateway error may echo the number. A reminder still
    # waiting to go (none should, years after closing) keeps its text: the dispatcher would
    # otherwise send an empty SMS.
    sms = Reminder.objects.filter(case_id__in=ids)
    sms.exclude(status__in=[Reminder.Status.SCHEDULED, Reminder.Status.SENDING]).update(text="")
    sms.exclude(last_error="").update(last_error="")
    # The stored API response (replayed to a retried request) holds the subscriber's data;
    # a retry of a years-old request gets an empty body with the original status.
    IdempotencyKey.objects.filter(case_id__in=ids).update(response_body=None)

    ready = list(_subscribers_ready(subscriber_ids).values_list("pk", flat=True))
    if ready:
        placeholder = Concat(
            Value(MSISDN_PLACEHOLDER_PREFIX),
            LPad(Cast("pk", CharField()), MSISDN_PLACEHOLDER_DIGITS, Value("0")),
            output_field=CharField(),
        )
        Subscriber.objects.filter(pk__in=ready).update(
            name="", msisdn=placeholder, anonymised_at=now
        )

    audit = _scrub_audit_log(model=Case, ids=ids)
    audit += _scrub_audit_log(model=StepOutcome, ids=step_ids)
    audit += _scrub_audit_log(model=Subscriber, ids=ready)
    # Counts only: no ids of people, no numbers, no names.
    logger.info("pd_anonymised_batch", cases=len(ids), subscribers=len(ready), audit_entries=audit)
    return len(ids), len(ready)


def cases_anonymise_expired(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    dry_run: bool = False,
    max_batches: int | None = None,
) -> RetentionResult:
    """The scheduled job: batches of expired cases, each in its own transaction, until none
    is left. dry_run counts what would be anonymised and changes nothing."""
    cutoff = retention_cutoff(now=now)
    batch_size = batch_size or settings.PD_ANONYMISE_BATCH
    if batch_size <= 0:
        raise ValueError("batch_size must be > 0")
    if dry_run:
        expired = cases_expired(cutoff=cutoff)
        expired_ids = expired.values("pk")
        # Subscribers whose every case is either anonymised or about to be.
        pending_other = Case.objects.filter(
            subscriber_id=OuterRef("pk"), anonymised_at__isnull=True
        ).exclude(pk__in=expired_ids)
        subscribers = (
            Subscriber.objects.filter(anonymised_at__isnull=True, cases__in=expired_ids)
            .exclude(Exists(pending_other))
            .distinct()
            .count()
        )
        return RetentionResult(cases=expired.count(), subscribers=subscribers, dry_run=True)
    result = RetentionResult()
    while max_batches is None or result.batches < max_batches:
        cases, subscribers = cases_anonymise_batch(cutoff=cutoff, batch_size=batch_size)
        if not cases:
            break
        result.cases += cases
        result.subscribers += subscribers
        result.batches += 1
    logger.info(
        "pd_retention_run", cases=result.cases, subscribers=result.subscribers,
        batches=result.batches, retention_days=settings.PD_RETENTION_DAYS,
    )  # fmt: skip
    return result
