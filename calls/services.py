"""The PBX's events become calls; a missed inbound call becomes a callback.

The PBX speaks Zammad's generic CTI push format (events newCall, answer, hangup keyed by
callId), so a PBX set up for Zammad works by changing only the URL. Zammad's events carry no
times: a call's times are when its events arrive. Each (call, event) is recorded once, so a
replayed event changes nothing; any event may come first (a hangup before its answer)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.access import require_supervisor
from cases.models import StaffProfile
from cases.phones import normalize_msisdn
from cases.services import CaseConflict, staff_available_locked, staff_prepare_for_assignment
from cases.subscribers import subscriber_get_or_create
from deliveries import push

from .access import may_work_callbacks
from .models import (
    CALLBACK_OPEN,
    Call,
    Callback,
    CallbackAttempt,
    CallEvent,
    CtiEndpoint,
    Direction,
)

EVENTS = ("newCall", "answer", "hangup")
# Zammad's hangup causes that mean nobody picked up (for an outbound attempt's result).
BUSY_CAUSES = {"busy"}


# --- Endpoints --------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def cti_endpoint_create(*, name: str) -> tuple[CtiEndpoint, str]:
    """A PBX's endpoint and its token (shown once; only the digest is kept)."""
    token = secrets.token_urlsafe(32)
    endpoint = CtiEndpoint.objects.create(name=name, token_digest=_digest(token))
    return endpoint, token


def cti_endpoint_for_token(token: str) -> CtiEndpoint | None:
    if not token or len(token) > 200 or not token.isascii():
        return None
    return CtiEndpoint.objects.filter(token_digest=_digest(token), revoked_at__isnull=True).first()


def cti_endpoint_revoke(*, name: str) -> int:
    return CtiEndpoint.objects.filter(name=name, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


# --- Events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CtiEvent:
    event: str
    call_id: str
    direction: str
    from_number: str
    to_number: str
    users: tuple[str, ...]
    queue: str
    cause: str
    answering_number: str


def _text(data: Mapping[str, Any], key: str, limit: int) -> str:
    value = data.get(key, "")
    if isinstance(value, list):  # a form field sent twice: the last, as Django does
        value = value[-1] if value else ""
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise ValidationError({key: _("Ожидается строка.")})
    text = str(value).strip()
    if "\x00" in text or len(text) > limit:
        raise ValidationError({key: _("Не длиннее %(n)d символов, без NUL.") % {"n": limit}})
    return text


def cti_event_parse(data: Mapping[str, Any]) -> CtiEvent:
    """Zammad's attributes, as a form (`user[]` repeated) or JSON (`user` a list or string)."""
    event = _text(data, "event", 16)
    if event not in EVENTS:
        raise ValidationError({"event": _("Событие — newCall, answer или hangup.")})
    call_id = _text(data, "callId", 128)
    if not call_id:
        raise ValidationError({"callId": _("Укажите callId.")})
    direction = _text(data, "direction", 3)
    if direction not in ("", Direction.IN, Direction.OUT):
        raise ValidationError({"direction": _("Направление — in или out.")})
    users = data.get("user[]", data.get("user", []))
    if isinstance(users, str):
        users = [users]
    if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
        raise ValidationError({"user": _("Ожидается список имён.")})
    return CtiEvent(
        event=event,
        call_id=call_id,
        direction=direction,
        from_number=_text(data, "from", 64),
        to_number=_text(data, "to", 64),
        users=tuple(u.strip()[:150] for u in users[:20] if u.strip()),
        queue=_text(data, "queue", 100),
        cause=_text(data, "cause", 64),
        answering_number=_text(data, "answeringNumber", 64),
    )


def _msisdn(raw: str) -> str:
    """The subscriber's E.164 number, or "" for anonymous and unparseable numbers."""
    if not raw or raw.lower() in ("anonymous", "unknown", "restricted"):
        return ""
    try:
        return normalize_msisdn(raw)
    except ValidationError:
        return ""


def _staff_for(event: CtiEvent) -> Any:
    """Who answered: the staff profile's CTI extension, else a name the PBX sent in user[]."""
    if event.answering_number:
        profile = (
            StaffProfile.objects.filter(cti_extension=event.answering_number)
            .select_related("user")
            .first()
        )
        if profile:
            return profile.user
    if event.users:
        return (
            get_user_model()
            .objects.annotate(full=Concat(F("first_name"), Value(" "), F("last_name")))
            .filter(Q(username__in=event.users) | Q(full__in=event.users), is_active=True)
            .order_by("pk")
            .first()
        )
    return None


@transaction.atomic
def cti_event_record(*, endpoint: CtiEndpoint, event: CtiEvent, payload: dict) -> Call:
    """Apply one PBX event to its call (queries: the call, its lock, the event, the save, and
    for an answer or a missed call a few more)."""
    call, _created = Call.objects.get_or_create(
        endpoint=endpoint,
        call_id=event.call_id,
        defaults={"direction": event.direction or Direction.IN},
    )
    call = Call.objects.select_for_update().get(pk=call.pk)
    try:
        with transaction.atomic():
            CallEvent.objects.create(call=call, event=event.event, payload=payload)
    except IntegrityError:
        return call  # the same event again: nothing changes
    now = timezone.now()
    if event.direction:
        call.direction = event.direction
    call.from_number = event.from_number or call.from_number
    call.to_number = event.to_number or call.to_number
    call.queue = event.queue or call.queue
    other_side = call.from_number if call.direction == Direction.IN else call.to_number
    if other_side and not call.msisdn:
        call.msisdn = _msisdn(other_side)
        if call.msisdn:
            call.subscriber, _new = subscriber_get_or_create(phone=call.msisdn)
    call.rang_at = call.rang_at or now
    if event.event == "answer":
        # After a hangup that arrived first: answered "at" the hangup, talk time unknown (0).
        call.answered_at = min(now, call.ended_at) if call.ended_at else now
        call.answering_number = event.answering_number
        call.answered_by = _staff_for(event)
        if call.answered_by is not None:
            push.publish(f"pop:{call.answered_by.pk}")  # their pages fetch the screen pop now
        if call.direction == Direction.IN and call.subscriber_id:
            _close_callbacks_answered(call.subscriber_id)
    elif event.event == "hangup":
        call.ended_at = now
        call.cause = event.cause
    call.save()
    if call.ended_at and call.subscriber_id:
        if call.was_missed:
            _callback_for_missed(call, call.subscriber_id)
        elif call.direction == Direction.OUT:
            _attempt_from_outbound(call, call.subscriber_id)
    return call


def _open_callback_locked(subscriber_id: int) -> Callback | None:
    return (
        Callback.objects.select_for_update()
        .filter(subscriber_id=subscriber_id, status__in=CALLBACK_OPEN)
        .first()
    )


def _callback_for_missed(call: Call, subscriber_id: int) -> None:
    """One open callback per subscriber: a new missed call joins it (counted), or opens one."""
    if call.callback_id:
        return
    open_one = _open_callback_locked(subscriber_id)
    if open_one:
        Callback.objects.filter(pk=open_one.pk).update(
            missed_calls=F("missed_calls") + 1, version=F("version") + 1
        )
        callback = open_one
    else:
        deadline = timezone.now() + timedelta(minutes=settings.CALLBACK_DEADLINE_MINUTES)
        try:
            with transaction.atomic():
                callback = Callback.objects.create(subscriber_id=subscriber_id, due_at=deadline)
        except IntegrityError:  # another missed call of this number opened it just now
            callback = Callback.objects.get(subscriber_id=subscriber_id, status__in=CALLBACK_OPEN)
            Callback.objects.filter(pk=callback.pk).update(missed_calls=F("missed_calls") + 1)
    Call.objects.filter(pk=call.pk).update(callback=callback)
    call.callback = callback


def _close_callbacks_answered(subscriber_id: int) -> None:
    """The subscriber got through: their open callback is done. A callback this very call
    opened (its hangup arrived before its answer) was never owed."""
    now = timezone.now()
    Callback.objects.filter(subscriber_id=subscriber_id, status__in=CALLBACK_OPEN).update(
        status=Callback.Status.REACHED, closed_at=now, version=F("version") + 1
    )


def _attempt_from_outbound(call: Call, subscriber_id: int) -> None:
    """A specialist's outbound call to a number owed a callback is an attempt of it."""
    callback = _open_callback_locked(subscriber_id)
    if callback is None or CallbackAttempt.objects.filter(call=call).exists():
        return
    if call.answered_at:
        result = CallbackAttempt.Result.REACHED
    elif call.cause.lower() in BUSY_CAUSES:
        result = CallbackAttempt.Result.BUSY
    else:
        result = CallbackAttempt.Result.NO_ANSWER
    _record_attempt(callback, result=result, actor=call.answered_by, call=call)


# --- Callbacks ----------------------------------------------------------------------------------


def _record_attempt(
    callback: Callback, *, result: str, actor: Any, call: Call | None = None
) -> Callback:
    CallbackAttempt.objects.create(callback=callback, result=result, actor=actor, call=call)
    if result == CallbackAttempt.Result.REACHED:
        callback.status, callback.closed_at = Callback.Status.REACHED, timezone.now()
    elif result == CallbackAttempt.Result.WRONG_NUMBER:
        callback.status, callback.closed_at = Callback.Status.CLOSED, timezone.now()
    else:
        failed = callback.attempts.exclude(result=CallbackAttempt.Result.REACHED).count()
        if failed >= settings.CALLBACK_MAX_ATTEMPTS:
            callback.status, callback.assignee = Callback.Status.ESCALATED, None
    callback.version += 1
    callback.save()
    return callback


@transaction.atomic
def callback_attempt(
    *, callback: Callback, result: str, actor: Any, expected_version: int | None = None
) -> Callback:
    """A specialist logs a call-back attempt: reached closes it, a wrong number closes it,
    and after CALLBACK_MAX_ATTEMPTS failed ones it goes to the supervisor."""
    if not may_work_callbacks(actor):
        raise PermissionDenied(_("Перезванивают специалисты и старшие смены."))
    if result not in CallbackAttempt.Result.values:
        raise ValidationError({"result": _("Выберите результат попытки.")})
    callback = Callback.objects.select_for_update().get(pk=callback.pk)
    if expected_version is not None and callback.version != expected_version:
        raise CaseConflict(callback.version)
    if not callback.is_open:
        raise ValidationError(_("Этот обратный звонок уже закрыт."))
    return _record_attempt(callback, result=result, actor=actor)


def callbacks_auto_assign(*, actor: Any, limit: int = 100) -> list[Callback]:
    """As the cases' auto-assignment, with the same rule of who may get work
    (cases.services.staff_available_locked): each open, unassigned callback, earliest deadline
    first, to the one with the fewest open cases and callbacks, never above their cap.
    Escalated ones stay with the supervisor; callbacks are claimed with SKIP LOCKED."""
    require_supervisor(actor)
    specialists = staff_prepare_for_assignment()
    assigned: list[Callback] = []
    with transaction.atomic():
        profiles, load = staff_available_locked(specialists)
        if not profiles:
            return []
        for who, n in (
            Callback.objects.filter(status=Callback.Status.OPEN, assignee_id__in=list(load))
            .values_list("assignee_id").annotate(n=Count("id"))
        ):  # fmt: skip
            load[who] += n
        waiting = list(
            Callback.objects.filter(status=Callback.Status.OPEN, assignee__isnull=True)
            .select_for_update(skip_locked=True)
            .order_by("due_at", "pk")[:limit]
        )
        for callback in waiting:
            free = [p for p in profiles if load[p.user_id] < p.max_open_cases]
            if not free:
                break
            target = min(free, key=lambda p: (load[p.user_id], p.pk))
            Callback.objects.filter(pk=callback.pk).update(
                assignee=target.user, version=F("version") + 1
            )
            callback.assignee = target.user
            assigned.append(callback)
            load[target.user_id] += 1
    return assigned


def calls_pop_for(*, user: Any) -> Call | None:
    """The call this person answered in the last two minutes and has not been shown yet; shown
    once (marked popped). One query when there is none."""
    since = timezone.now() - timedelta(minutes=2)
    call = (
        Call.objects.filter(answered_by=user, popped_at__isnull=True, answered_at__gte=since)
        .select_related("subscriber")
        .order_by("-answered_at")
        .first()
    )
    if call is not None:
        Call.objects.filter(pk=call.pk).update(popped_at=timezone.now())
    return call
