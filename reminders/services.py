"""Writes on reminders: scheduling (from playbook steps or by a specialist), cancelling,
the dispatcher's claim → send → record, the reaper, delivery reports and «СТОП».

The reminder row is the source of truth. The dispatcher claims due rows in one short
transaction (status "sending", attempts + 1), talks to the gateway OUTSIDE any transaction,
then records the result in another. A worker that dies in between leaves a "sending" row that
the reaper turns into "unknown" for a person to check: it is never resent by itself."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case, CaseEvent, Subscriber
from cases.phones import normalize_msisdn
from cases.subscribers import subscriber_get_or_create, subscriber_set_opt_out
from fraudcenter.checkpoints import checkpoint
from playbooks.models import Step
from playbooks.sms_text import sms_parts, sms_text_errors

from .backends import get_backend
from .backends.base import (
    BackendUnavailable,
    BaseSmsBackend,
    InboundSms,
    OutgoingSms,
    Receipt,
    SendResult,
)
from .models import EarlyReceipt, Reminder, ReminderPart
from .quiet_hours import next_allowed_send_time

logger = logging.getLogger(__name__)
S = Reminder.Status
K = CaseEvent.Kind

PENDING_STATUSES = (S.SCHEDULED,)


class ReminderConflict(Exception):
    """The reminder is no longer in a state that allows the operation (e.g. already sent)."""


def _event(
    case_id: int, kind: str, reminder: Reminder | int, actor: User | None = None, text: str = "",
    **data: Any,
) -> CaseEvent:  # fmt: skip
    rid = reminder if isinstance(reminder, int) else reminder.pk
    return CaseEvent(
        case_id=case_id, kind=kind, actor=actor, text=text, data={"reminder": rid, **data}
    )


def _actor(actor: User | None) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None


# --- Rendering and scheduling -----------------------------------------------------------------


def reminder_render(*, template: str, case: Case) -> str:
    return template.replace("{number}", case.number or str(case.pk)).strip()


def _build(
    *, case: Case, subscriber: Subscriber, text: str, send_after: datetime, dedupe_key: str,
    step: Step | None, actor: User | None,
) -> Reminder:  # fmt: skip
    _chars, parts = sms_parts(text)
    allowed = next_allowed_send_time(send_after, subscriber.time_zone)
    return Reminder(
        case=case,
        subscriber=subscriber,
        step=step,
        text=text,
        parts=parts,
        send_after=allowed,
        shifted_by_quiet_hours=allowed != send_after,
        # An opted-out subscriber gets nothing; the row stays so the case page says why.
        status=S.SKIPPED_OPT_OUT if subscriber.sms_opt_out else S.SCHEDULED,
        dedupe_key=dedupe_key,
        created_by=_actor(actor),
    )


def _scheduled_events(reminders: Iterable[Reminder], actor: User | None) -> list[CaseEvent]:
    events = []
    for r in reminders:
        if r.status == S.SKIPPED_OPT_OUT:
            events.append(_event(r.case_id, K.SMS_CANCELLED, r, actor, reason="opt_out"))
        else:
            events.append(
                _event(
                    r.case_id,
                    K.SMS_SCHEDULED,
                    r,
                    actor,
                    r.text,
                    send_after=r.send_after.isoformat(),
                    parts=r.parts,
                    shifted_by_quiet_hours=r.shifted_by_quiet_hours,
                )  # fmt: skip
            )
    return events


def step_dedupe_key(case: Case, step: Step) -> str:
    # The step row belongs to one playbook version, so case + step is case + step + version.
    return f"step:{case.pk}:{step.pk}:v{step.version_id}"


def reminders_schedule_on_open(
    *, case: Case, actor: User | None, steps: list[Step] | None = None
) -> list[Reminder]:
    """Called by case_open inside its transaction: the pinned version's on_open SMS.

    Queries: one for the steps unless the caller passes the version's steps; with any SMS,
    one bulk insert of reminders and one of events."""
    if not case.playbook_version_id:
        return []
    if steps is None:
        steps = list(
            Step.objects.filter(
                version_id=case.playbook_version_id, sms_trigger=Step.SmsTrigger.ON_OPEN
            )
            .exclude(sms_template="")
            .only("pk", "version_id", "sms_template", "sms_delay_minutes")
        )
    else:
        steps = [s for s in steps if s.sms_trigger == Step.SmsTrigger.ON_OPEN and s.sms_template]
    if not steps:
        return []
    now = timezone.now()
    reminders = [
        _build(
            case=case,
            subscriber=case.subscriber,
            text=reminder_render(template=s.sms_template, case=case),
            send_after=now + timedelta(minutes=s.sms_delay_minutes or 0),
            dedupe_key=step_dedupe_key(case, s),
            step=s,
            actor=actor,
        )
        for s in steps
    ]
    Reminder.objects.bulk_create(reminders)
    CaseEvent.objects.bulk_create(_scheduled_events(reminders, actor))
    return reminders


def reminder_schedule_for_step(*, case: Case, step: Step, actor: User | None) -> Reminder | None:
    """The step's SMS for this case, once: a second call (the step redone) adds nothing."""
    if not step.sms_template:
        return None
    key = step_dedupe_key(case, step)
    with transaction.atomic():
        if Reminder.objects.filter(dedupe_key=key).exists():
            return None
        reminder = _build(
            case=case,
            subscriber=case.subscriber,
            text=reminder_render(template=step.sms_template, case=case),
            send_after=timezone.now() + timedelta(minutes=step.sms_delay_minutes or 0),
            dedupe_key=key,
            step=step,
            actor=actor,
        )
        try:
            with transaction.atomic():
                reminder.save()
        except IntegrityError:
            return None  # scheduled concurrently by the same step: the other one stands
        CaseEvent.objects.bulk_create(_scheduled_events([reminder], actor))
    return reminder


def validate_sms_text(text: str) -> str:
    text = (text or "").strip()
    errors = sms_text_errors(text)
    if text:
        _chars, parts = sms_parts(text)
        if parts > settings.SMS_MAX_PARTS:
            errors.append(
                _("Слишком длинное SMS: %(parts)s частей, можно не больше %(max)s.")
                % {"parts": parts, "max": settings.SMS_MAX_PARTS}
            )
    if errors:
        raise ValidationError({"text": errors})
    return text


def _manual_key(case: Case, request_id: str) -> str:
    return f"manual:{case.pk}:{(request_id or '').strip()}"


def reminder_find_manual(*, case: Case, request_id: str) -> Reminder | None:
    """The SMS a specialist's request already scheduled, if it got through before."""
    if not (request_id or "").strip():
        return None
    return Reminder.objects.filter(dedupe_key=_manual_key(case, request_id)).first()


@transaction.atomic
def reminder_schedule_manual(
    *, case: Case, text: str, send_after: datetime | None, request_id: str, actor: User
) -> tuple[Reminder, bool]:
    """A specialist's SMS. The request id makes a retry safe: (reminder, created).

    Same request id with the same text is the same reminder; with another text it is refused.
    A new SMS is refused on a closed case and to a subscriber who sent «СТОП»."""
    errors: dict[str, list[str]] = {}
    try:
        text = validate_sms_text(text)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    request_id = (request_id or "").strip()
    if not request_id or len(request_id) > 100:
        errors["request_id"] = [_("Укажите идентификатор запроса (до 100 символов).")]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    if send_after is None or send_after < now:
        send_after = now
    if send_after > now + timedelta(days=90):
        raise ValidationError({"send_after": _("Не позже чем через 90 дней.")})
    key = _manual_key(case, request_id)
    existing = Reminder.objects.filter(dedupe_key=key).first()
    if existing is None:
        case = Case.objects.select_related("subscriber").get(pk=case.pk)
        if not case.is_open:
            raise ValidationError(_("Обращение закрыто: SMS не запланировать."), code="case_closed")
        if case.subscriber.sms_opt_out:
            raise ValidationError(
                _("Абонент отказался от SMS («СТОП»): сообщения ему не отправляются."),
                code="opt_out",
            )
        reminder = _build(
            case=case, subscriber=case.subscriber, text=text, send_after=send_after,
            dedupe_key=key, step=None, actor=actor,
        )  # fmt: skip
        try:
            with transaction.atomic():
                reminder.save()
        except IntegrityError:
            existing = Reminder.objects.get(dedupe_key=key)
        else:
            CaseEvent.objects.bulk_create(_scheduled_events([reminder], actor))
            return reminder, True
    if existing.text != text:
        raise ReminderConflict(_("Этот идентификатор запроса уже использован для другого SMS."))
    return existing, False


@transaction.atomic
def reminder_cancel(*, reminder: Reminder, actor: User | None, reason: str = "") -> Reminder:
    """Cancel a scheduled reminder. One already claimed by the dispatcher cannot be cancelled:
    the conditional UPDATE decides the race, and the loser is told."""
    now = timezone.now()
    changed = Reminder.objects.filter(pk=reminder.pk, status=S.SCHEDULED).update(
        status=S.CANCELLED, updated_at=now
    )
    reminder.refresh_from_db()
    if not changed:
        if reminder.status == S.CANCELLED:
            return reminder  # cancelling twice is harmless
        raise ReminderConflict(
            _("SMS уже нельзя отменить: статус «%(s)s».") % {"s": reminder.get_status_display()}
        )
    _event(reminder.case_id, K.SMS_CANCELLED, reminder, _actor(actor), reason=reason).save()
    return reminder


def reminders_cancel_pending_for_case(*, case: Case, actor: User | None, reason: str) -> int:
    """Cancel every scheduled reminder of a case (in the caller's transaction)."""
    with transaction.atomic():
        ids = list(
            Reminder.objects.select_for_update()
            .filter(case=case, status=S.SCHEDULED)
            .values_list("pk", flat=True)
        )
        if not ids:
            return 0
        Reminder.objects.filter(pk__in=ids, status=S.SCHEDULED).update(
            status=S.CANCELLED, updated_at=timezone.now()
        )
        CaseEvent.objects.bulk_create(
            _event(case.pk, K.SMS_CANCELLED, rid, _actor(actor), reason=reason) for rid in ids
        )
    return len(ids)


@transaction.atomic
def reminder_resolve_unknown(*, reminder: Reminder, was_sent: bool, actor: User) -> Reminder:
    """A person checked an "unknown" reminder with the gateway: it went out (→ sent), or it did
    not (→ scheduled again, to go at the next allowed time)."""
    now = timezone.now()
    qs = Reminder.objects.filter(pk=reminder.pk, status=S.UNKNOWN)
    if was_sent:
        changed = qs.update(status=S.SENT, sent_at=now, updated_at=now)
        kind, data = K.SMS_SENT, {"resolved": "sent"}
    else:
        changed = qs.update(status=S.SCHEDULED, send_after=now, last_error="", updated_at=now)
        kind, data = K.SMS_SCHEDULED, {"resolved": "resend"}
    reminder.refresh_from_db()
    if not changed:
        raise ReminderConflict(_("Проверять вручную нужно только SMS со статусом «Неизвестно»."))
    _event(reminder.case_id, kind, reminder, _actor(actor), **data).save()
    return reminder


# --- Opt-out ------------------------------------------------------------------------------------

STOP_WORDS = {"стоп", "stop", "отписаться", "отписка"}


def is_stop_message(text: str) -> bool:
    words = re.findall(r"\w+", (text or "").lower())
    return bool(words) and words[0] in STOP_WORDS


def reminders_skip_for_opt_out(*, subscriber_id: int) -> int:
    with transaction.atomic():
        rows = list(
            Reminder.objects.select_for_update()
            .filter(subscriber_id=subscriber_id, status=S.SCHEDULED)
            .values_list("pk", "case_id")
        )
        if rows:
            Reminder.objects.filter(pk__in=[r[0] for r in rows], status=S.SCHEDULED).update(
                status=S.SKIPPED_OPT_OUT, updated_at=timezone.now()
            )
            CaseEvent.objects.bulk_create(
                _event(case_id, K.SMS_CANCELLED, rid, reason="opt_out") for rid, case_id in rows
            )
    return len(rows)


def reminder_inbound_message(*, msisdn: str, text: str) -> bool:
    """An SMS from a subscriber (gateway callback or SMPP deliver_sm). «СТОП» opts them out
    and skips what is pending. Returns True when it was an opt-out."""
    stop = is_stop_message(text)
    # Every inbound SMS leaves a line (the log masks the number).
    logger.info("inbound SMS from %s: %s", msisdn, "opt-out" if stop else "not an opt-out")
    if not stop:
        return False
    try:
        msisdn = normalize_msisdn(msisdn)
    except ValidationError:
        logger.warning("opt-out from %s dropped: not a subscriber's number", msisdn)
        return False
    with transaction.atomic():
        # A number with no case yet is kept opted out: its first case starts that way.
        subscriber, _created = subscriber_get_or_create(phone=msisdn)
        subscriber_set_opt_out(subscriber=subscriber, opt_out=True)
        reminders_skip_for_opt_out(subscriber_id=subscriber.pk)
    logger.info("SMS opt-out received for subscriber %s", subscriber.pk)
    return True


# --- Dispatcher -------------------------------------------------------------------------------


def _test_hook(point: str) -> None:
    checkpoint(settings.SMS_TEST_HOOK_DIR, point)


def reminders_claim_due(*, now: datetime | None = None, limit: int | None = None) -> list[Reminder]:
    """Claim up to `limit` due reminders in one short transaction.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so several workers take disjoint batches. SQLite: the
    IMMEDIATE transaction holds the write lock from its start, which serialises claimers.
    In the same transaction: opted-out subscribers are skipped, and a reminder that became due
    inside quiet hours (a backlog, a retry) waits for the subscriber's morning.

    Queries: the locking SELECT (with the subscriber) and one UPDATE; a skip or a shift adds
    its own UPDATE and event insert."""
    now = now or timezone.now()
    limit = limit or settings.SMS_BATCH_SIZE
    with transaction.atomic():
        rows = list(
            Reminder.objects.filter(status=S.SCHEDULED, send_after__lte=now)
            .select_related("subscriber")
            .only(
                "pk",
                "case_id",
                "text",
                "dedupe_key",
                "send_after",
                "attempts",
                "subscriber",
                "subscriber__msisdn",
                "subscriber__time_zone",
                "subscriber__sms_opt_out",
            )  # fmt: skip
            .order_by("send_after")
            .select_for_update(skip_locked=True, of=("self",))[:limit]
        )
        claim, skipped, shifted = [], [], []
        for r in rows:
            if r.subscriber.sms_opt_out:
                skipped.append(r)
                continue
            allowed = next_allowed_send_time(now, r.subscriber.time_zone)
            if allowed != now:
                r.send_after, r.shifted_by_quiet_hours = allowed, True
                shifted.append(r)
                continue
            claim.append(r)
        if claim:
            Reminder.objects.filter(pk__in=[r.pk for r in claim]).update(
                status=S.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
            )
        if skipped:
            Reminder.objects.filter(pk__in=[r.pk for r in skipped]).update(
                status=S.SKIPPED_OPT_OUT, updated_at=now
            )
            CaseEvent.objects.bulk_create(
                _event(r.case_id, K.SMS_CANCELLED, r, reason="opt_out") for r in skipped
            )
        if shifted:
            Reminder.objects.bulk_update(shifted, ["send_after", "shifted_by_quiet_hours"])
    for r in claim:
        r.status, r.claimed_at, r.attempts = S.SENDING, now, r.attempts + 1
    return claim


def _recheck_opt_out(claimed: list[Reminder]) -> list[Reminder]:
    """Opt-out is checked again right before sending: a «СТОП» that arrived after the claim
    still wins. One query for the batch (plus the skip when there is one)."""
    if not claimed:
        return claimed
    opted = set(
        Subscriber.objects.filter(
            pk__in={r.subscriber_id for r in claimed}, sms_opt_out=True
        ).values_list("pk", flat=True)
    )
    if not opted:
        return claimed
    skip = [r for r in claimed if r.subscriber_id in opted]
    with transaction.atomic():
        Reminder.objects.filter(pk__in=[r.pk for r in skip], status=S.SENDING).update(
            status=S.SKIPPED_OPT_OUT, updated_at=timezone.now()
        )
        CaseEvent.objects.bulk_create(
            _event(r.case_id, K.SMS_CANCELLED, r, reason="opt_out") for r in skip
        )
    return [r for r in claimed if r.subscriber_id not in opted]


def retry_delay(attempts: int) -> timedelta:
    seconds = settings.SMS_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.SMS_RETRY_MAX_SECONDS))


def _set_message_ids(pairs: list[tuple[int, str]]) -> None:
    """Each row its own gateway id, in one UPDATE (bulk_update's CASE costs ~10 ms a row)."""
    if not pairs:
        return
    table = connection.ops.quote_name(Reminder._meta.db_table)
    rows = " UNION ALL ".join(["SELECT %s AS rid, %s AS mid"] * len(pairs))
    params = [x for pair in pairs for x in pair]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET gateway_message_id = v.mid FROM ({rows}) AS v "
            f"WHERE {table}.id = v.rid",
            params,
        )


def reminders_record_results(results: list[SendResult], *, now: datetime | None = None) -> None:
    """Record what the gateway said, in one transaction for the batch.

    The rows are locked first so that a delivery report racing in (HTTP callbacks can beat
    the worker) is not overwritten: a reminder already "delivered" keeps that status.
    Queries for a batch that went out: the locking SELECT, one UPDATE of the status, one of
    the gateway ids, one bulk INSERT of timeline events; retries and failures add one UPDATE
    per distinct error."""
    if not results:
        return
    now = now or timezone.now()
    by_id = {r.reminder_id: r for r in results}
    with transaction.atomic():
        rows = list(
            Reminder.objects.select_for_update()
            .filter(pk__in=list(by_id))
            .order_by("pk")
            .values_list("pk", "case_id", "status", "attempts", "parts")
        )
        sent: list[int] = []
        already_delivered: list[int] = []
        message_ids: list[tuple[int, str]] = []
        grouped: dict[tuple[str, str, int], list[int]] = {}
        throttled: list[int] = []
        events = []
        owned: set[int] = set()
        for pk, case_id, status, attempts, parts in rows:
            res = by_id[pk]
            if status not in (S.SENDING, S.UNKNOWN, S.DELIVERED):
                continue  # not ours any more (a person resolved it)
            owned.add(pk)
            if res.message_id:
                message_ids.append((pk, res.message_id[:128]))
            error = res.error[:1000]
            if res.outcome == "sent":
                (already_delivered if status == S.DELIVERED else sent).append(pk)
                events.append(
                    _event(case_id, K.SMS_SENT, pk, message_id=res.message_id, parts=parts)
                )
            elif res.outcome == "throttled":
                throttled.append(pk)
            elif res.outcome == "retry" and attempts < settings.SMS_MAX_ATTEMPTS:
                grouped.setdefault((S.SCHEDULED, error, attempts), []).append(pk)
            elif res.outcome in ("retry", "failed"):
                grouped.setdefault((S.FAILED, error, 0), []).append(pk)
                events.append(_event(case_id, K.SMS_FAILED, pk, text=error[:500], status="failed"))
            else:  # unknown: a person checks; never resent by the dispatcher
                grouped.setdefault((S.UNKNOWN, error, 0), []).append(pk)
                events.append(_event(case_id, K.SMS_FAILED, pk, text=error[:500], status="unknown"))
        if sent:
            Reminder.objects.filter(pk__in=sent).update(
                status=S.SENT, sent_at=now, last_error="", updated_at=now
            )
        if already_delivered:
            Reminder.objects.filter(pk__in=already_delivered).update(sent_at=now, updated_at=now)
        for (status, error, attempts), pks in grouped.items():
            changes: dict[str, Any] = {"status": status, "last_error": error, "updated_at": now}
            if status == S.SCHEDULED:
                changes["send_after"] = now + retry_delay(attempts)
            Reminder.objects.filter(pk__in=pks).update(**changes)
        if throttled:
            # The SMSC's flow control: soon again, and the attempt does not count.
            Reminder.objects.filter(pk__in=throttled).update(
                status=S.SCHEDULED,
                attempts=F("attempts") - 1,
                send_after=now + timedelta(seconds=settings.SMS_THROTTLE_BACKOFF_SECONDS),
                last_error=_("Оператор попросил отправлять медленнее; отправим чуть позже."),
                updated_at=now,
            )
        _set_message_ids(message_ids)
        part_rows = [
            ReminderPart(
                reminder_id=r.reminder_id, index=index, message_id=mid[:128], accepted_at=now
            )  # fmt: skip
            for r in results
            if r.reminder_id in owned
            for index, mid in r.part_ids.items()
        ]
        if part_rows:
            ReminderPart.objects.bulk_create(part_rows, ignore_conflicts=True)
        CaseEvent.objects.bulk_create(events)
    _apply_early_receipts([p.message_id for p in part_rows] + [m for _pk, m in message_ids])


def _apply_early_receipts(message_ids: list[str]) -> None:
    """Receipts that arrived before these ids were recorded (one query when there are none)."""
    if not message_ids:
        return
    early = list(EarlyReceipt.objects.filter(message_id__in=message_ids))
    if not early:
        return
    EarlyReceipt.objects.filter(pk__in=[e.pk for e in early]).delete()
    reminders_record_receipts(
        [Receipt(message_id=e.message_id, delivered=e.delivered, error=e.error) for e in early]
    )


def reminders_record_receipts(receipts: list[Receipt], *, now: datetime | None = None) -> int:
    """Delivery reports: by gateway message id, or by our reference ("fc-<id>").

    Queries for a batch: the locking SELECT of the matching rows, one UPDATE for the delivered
    ones, one per failed one (rare), one bulk INSERT of timeline events."""
    if not receipts:
        return 0
    now = now or timezone.now()
    ids = [r.message_id for r in receipts if r.message_id]
    refs = [x for x in (_reference_id(r.reference) for r in receipts if r.reference) if x]
    by_part = _record_part_receipts([r for r in receipts if r.message_id], now)
    if by_part:
        ids = [i for i in ids if i not in by_part]
        receipts = [r for r in receipts if r.message_id not in by_part]
        if not receipts:
            return len(by_part)
    with transaction.atomic():
        rows = Reminder.objects.filter(gateway_message_id__in=ids) if ids else None
        if refs:
            by_ref = Reminder.objects.filter(pk__in=refs)
            rows = by_ref if rows is None else rows | by_ref
        if rows is None:
            return len(by_part)
        found: dict[str, tuple[int, int]] = {}
        open_statuses = {S.SENT, S.SENDING, S.UNKNOWN}
        for pk, case_id, mid, status in (
            rows.select_for_update()
            .order_by("pk")
            .values_list("pk", "case_id", "gateway_message_id", "status")
        ):
            if status in open_statuses:
                found[f"id:{mid}"] = found[f"ref:{pk}"] = (pk, case_id)
        delivered: dict[int, int] = {}
        failed: dict[int, tuple[int, str]] = {}
        for receipt in receipts:
            hit = found.get(f"id:{receipt.message_id}") if receipt.message_id else None
            if hit is None and receipt.reference:
                hit = found.get(f"ref:{_reference_id(receipt.reference)}")
            if hit is None or hit[0] in delivered or hit[0] in failed:
                continue
            if receipt.delivered:
                delivered[hit[0]] = hit[1]
            else:
                failed[hit[0]] = (hit[1], receipt.error[:1000])
        if delivered:
            Reminder.objects.filter(pk__in=list(delivered)).update(
                status=S.DELIVERED, delivered_at=now, updated_at=now
            )
        for pk, (_case_id, error) in failed.items():
            Reminder.objects.filter(pk=pk).update(status=S.FAILED, last_error=error, updated_at=now)
        events = [
            _event(case_id, K.SMS_DELIVERED, pk, status="delivered")
            for pk, case_id in delivered.items()
        ]
        events += [
            _event(case_id, K.SMS_FAILED, pk, text=error[:500], status="undeliverable")
            for pk, (case_id, error) in failed.items()
        ]
        CaseEvent.objects.bulk_create(events)
        # Receipts for ids nobody has recorded yet: the sender is still writing its answers.
        early = [
            EarlyReceipt(message_id=r.message_id[:128], delivered=r.delivered, error=r.error)
            for r in receipts
            if r.message_id and f"id:{r.message_id}" not in found
        ]
        if early:
            EarlyReceipt.objects.bulk_create(early)
    return len(by_part) + len(delivered) + len(failed)


def _record_part_receipts(receipts: list[Receipt], now: datetime) -> set[str]:
    """Receipts of the parts of SMS sent part by part (SMPP): each part marked, and an SMS
    delivered when all its parts are, failed when one is not. Returns the message ids it
    knew. Queries: the parts' locking SELECT; when some matched, their UPDATEs, the counts
    of their SMS, and the SMS's UPDATEs and events."""
    known = {r.message_id: r for r in receipts}
    with transaction.atomic():
        rows = list(
            ReminderPart.objects.select_for_update()
            .filter(message_id__in=list(known))
            .values_list("pk", "reminder_id", "message_id")
        )
        if not rows:
            return set()
        delivered = [pk for pk, _rid, mid in rows if known[mid].delivered]
        failed = [pk for pk, _rid, mid in rows if not known[mid].delivered]
        if delivered:
            ReminderPart.objects.filter(pk__in=delivered, delivered_at__isnull=True).update(
                delivered_at=now
            )
        if failed:
            ReminderPart.objects.filter(pk__in=failed).update(failed=True)
        touched = {rid for _pk, rid, _mid in rows}
        # Lock the SMS, then count their parts (FOR UPDATE cannot go with GROUP BY).
        open_rows = dict(
            Reminder.objects.select_for_update()
            .filter(pk__in=touched, status__in=[S.SENT, S.SENDING, S.UNKNOWN])
            .values_list("pk", "case_id")
        )
        counts = (
            Reminder.objects.filter(pk__in=list(open_rows))
            .annotate(
                n_delivered=Count("part_rows", filter=Q(part_rows__delivered_at__isnull=False)),
                n_failed=Count("part_rows", filter=Q(part_rows__failed=True)),
            )
            .values_list("pk", "parts", "n_delivered", "n_failed")
        )
        reminders = [(pk, open_rows[pk], parts, ok, bad) for pk, parts, ok, bad in counts]
        whole = [
            (pk, case_id) for pk, case_id, parts, ok, bad in reminders if not bad and ok >= parts
        ]
        lost = [(pk, case_id) for pk, case_id, _parts, _ok, bad in reminders if bad]
        if whole:
            Reminder.objects.filter(pk__in=[pk for pk, _c in whole]).update(
                status=S.DELIVERED, delivered_at=now, updated_at=now
            )
        if lost:
            Reminder.objects.filter(pk__in=[pk for pk, _c in lost]).update(
                status=S.FAILED, last_error=_("Часть SMS не доставлена."), updated_at=now
            )
        CaseEvent.objects.bulk_create(
            [_event(c, K.SMS_DELIVERED, pk, status="delivered") for pk, c in whole]
            + [_event(c, K.SMS_FAILED, pk, status="undeliverable") for pk, c in lost]
        )
    return {mid for _pk, _rid, mid in rows}


def reminder_reference(reminder_id: int) -> str:
    return f"fc-{reminder_id}"


def _reference_id(reference: str) -> int | None:
    digits = reference.removeprefix("fc-")
    # ASCII digits only ("fc-²" is no reference of ours), and within an id's range.
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 19 else None


def _parts_taken(reminder_ids: list[int]) -> dict[int, set[int]]:
    """Parts the gateway already took, for retries only (a first attempt has none: no query)."""
    taken: dict[int, set[int]] = {}
    if reminder_ids:
        for rid, index in ReminderPart.objects.filter(reminder_id__in=reminder_ids).values_list(
            "reminder_id", "index"
        ):
            taken.setdefault(rid, set()).add(index)
    return taken


def reminders_send_batch(*, backend: BaseSmsBackend | None = None) -> int:
    """One claim → send → record round. Returns how many reminders were claimed."""
    backend = backend or get_backend()
    claimed = reminders_claim_due()
    if not claimed:
        return 0
    _test_hook("after_claim")
    to_send = _recheck_opt_out(claimed)
    done = _parts_taken([r.pk for r in to_send if r.attempts > 1])
    messages = [
        OutgoingSms(
            r.pk,
            str(r.subscriber.msisdn),
            r.text,
            reminder_reference(r.pk),
            done_parts=frozenset(done.get(r.pk, ())),
        )  # fmt: skip
        for r in to_send
    ]
    # Network I/O outside any transaction: a slow gateway must not hold row locks.
    try:
        results = backend.send_messages(messages) if messages else []
    except BackendUnavailable as exc:
        logger.warning("SMS gateway unavailable: %s", exc)
        results = [SendResult(m.reminder_id, "retry", error=str(exc)[:500]) for m in messages]
    except Exception as exc:  # noqa: BLE001 - whatever broke, some SMS may have gone out
        logger.exception("SMS backend failed mid-batch")
        results = [SendResult(m.reminder_id, "unknown", error=repr(exc)[:500]) for m in messages]
    _test_hook("after_send")
    reminders_record_results(results)
    return len(claimed)


def reminders_record_incoming(item: Receipt | InboundSms) -> None:
    """One deliver_sm as the always-bound receiver reads it: a receipt or a subscriber's SMS."""
    if isinstance(item, Receipt):
        reminders_record_receipts([item])
    else:
        reminder_inbound_message(msisdn=item.msisdn, text=item.text)


def reminders_poll_backend(*, backend: BaseSmsBackend | None = None) -> int:
    backend = backend or get_backend()
    receipts, inbound = backend.poll()
    for message in inbound:
        reminder_inbound_message(msisdn=message.msisdn, text=message.text)
    return reminders_record_receipts(receipts)


def reminders_dispatch(*, budget_seconds: float | None = None) -> int:
    """The beat task's body: send due batches until none is left or the time budget is spent,
    and read delivery reports. Returns the number of reminders claimed."""
    budget = settings.SMS_DISPATCH_BUDGET if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    backend = get_backend()
    total = 0
    while True:
        n = reminders_send_batch(backend=backend)
        total += n
        reminders_poll_backend(backend=backend)
        if n < settings.SMS_BATCH_SIZE or time.monotonic() >= deadline:
            break
    return total


def reminders_reap(*, now: datetime | None = None, backend: BaseSmsBackend | None = None) -> int:
    """Reminders stuck in "sending" (their worker died): ask the gateway if it can tell;
    otherwise "unknown" for a person to check. Never resent silently."""
    now = now or timezone.now()
    # A receipt whose id nobody recorded within a day is for no SMS of ours.
    EarlyReceipt.objects.filter(received_at__lt=now - timedelta(days=1)).delete()
    cutoff = now - timedelta(seconds=settings.SMS_SENDING_TIMEOUT)
    stuck = list(
        Reminder.objects.filter(status=S.SENDING, claimed_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:1000]
    )
    if not stuck:
        return 0
    backend = backend or get_backend()
    results = []
    for pk in stuck:
        answer = backend.lookup(reminder_reference(pk))
        if answer == "not_sent":
            results.append(SendResult(pk, "retry", error=_("worker stopped before sending")))
        elif answer == "sent":
            results.append(SendResult(pk, "sent", error=""))
        else:
            results.append(
                SendResult(pk, "unknown", error="worker stopped mid-send; check with the gateway")
            )
    with transaction.atomic():
        # Only rows still stuck: a slow worker that recorded meanwhile wins.
        still = set(
            Reminder.objects.select_for_update()
            .filter(pk__in=stuck, status=S.SENDING, claimed_at__lt=cutoff)
            .values_list("pk", flat=True)
        )
        reminders_record_results([r for r in results if r.reminder_id in still], now=now)
    if still:
        logger.warning("Reaped %s reminders stuck in sending", len(still))
    return len(still)


# --- Delivery report callback -----------------------------------------------------------------


def reminders_record_http_receipt(*, payload: dict[str, Any]) -> int:
    for field in ("message_id", "reference", "status"):
        if "\x00" in str(payload.get(field, "")):
            raise ValidationError({field: _("Недопустимый символ в значении.")})
    reference = str(payload.get("reference", ""))
    if reference and _reference_id(reference[:64]) is None and not payload.get("message_id"):
        raise ValidationError({"reference": _("Неизвестная ссылка на SMS.")})
    status = str(payload.get("status", "")).lower()
    receipt = Receipt(
        message_id=str(payload.get("message_id", ""))[:128],
        reference=str(payload.get("reference", ""))[:64],
        delivered=status in ("delivered", "delivrd"),
        error="" if status in ("delivered", "delivrd") else f"gateway status {status}"[:200],
    )
    if status not in ("delivered", "delivrd", "failed", "undeliverable", "expired", "rejected"):
        raise ValidationError({"status": _("Неизвестный статус доставки.")})
    return reminders_record_receipts([receipt])
