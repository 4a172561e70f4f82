"""Outbound webhooks: enqueue (inside the caller's transaction), claim, POST, record.

The Standard Webhooks scheme (https://www.standardwebhooks.com): `webhook-id` (the same on
every attempt of one delivery, so the receiver drops repeats), `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, signed by the
`standardwebhooks` package with the target's `whsec_…` secret.

Each attempt: claim in one short transaction (status "sending", attempts + 1), POST outside
any transaction, record the result in another. 2xx is delivered; timeouts, connection errors,
408, 429 and 5xx are retried with exponential backoff and jitter (`Retry-After` honoured);
any other answer is final. A worker that dies mid-POST leaves a "sending" row that the reaper
puts back to retry: the receiver may see that webhook-id twice and keeps it once.

Order: deliveries with the same target and ordering key go one at a time in id order; the
callers insert them under a lock of their own (the case row), so ids follow commit order."""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from celery import current_app
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from fraudcenter.checkpoints import checkpoint

from . import push
from .models import Delivery, DeliveryAttempt

logger = logging.getLogger(__name__)
S = Delivery.Status
R = DeliveryAttempt.Result
WAITING = (S.PENDING, S.RETRYING)
UNFINISHED = (S.PENDING, S.RETRYING, S.SENDING)
_session = requests.Session()


class DeliveryConflict(Exception):
    """The delivery is not in a state that allows the operation (e.g. resending a sent one)."""


@dataclass(frozen=True)
class Target:
    url: str
    secret: str


def target_config(name: str) -> Target | None:
    """The target's URL and secret from settings.DELIVERY_TARGETS; None when not configured."""
    entry = settings.DELIVERY_TARGETS.get(name) or {}
    if not entry.get("URL"):
        return None
    return Target(url=entry["URL"], secret=entry["SECRET"])


def target_enabled(name: str) -> bool:
    return target_config(name) is not None


# --- Enqueue ----------------------------------------------------------------------------------


def delivery_enqueue(
    *, target: str, event_type: str, ordering_key: str, data: dict[str, Any]
) -> Delivery:
    """Write the delivery in the caller's transaction; its task is sent after commit.

    The body is fixed here ({"type", "timestamp", "data"}, as Standard Webhooks suggests) and
    signed as is on every attempt."""
    now = timezone.now()
    body = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    delivery = Delivery.objects.create(
        target=target,
        webhook_id=f"msg_{random.getrandbits(128):032x}",
        event_type=event_type,
        ordering_key=ordering_key,
        payload=json.dumps(body, ensure_ascii=False, cls=DjangoJSONEncoder),
        next_attempt_at=now,
        queued_at=now,
    )
    _send_after_commit([delivery.pk])
    return delivery


SEND_TASK = "deliveries.send"  # deliveries/tasks.py; by name, as the task module imports this


def _send_after_commit(ids: list[int]) -> None:
    def publish() -> None:
        for pk in ids:
            try:
                current_app.send_task(SEND_TASK, args=[pk])
            except Exception:  # the broker is away: the dispatcher re-sends it later
                logger.warning("delivery %s: task not published, the dispatcher will", pk)

    transaction.on_commit(publish)


@transaction.atomic
def delivery_resend(*, delivery: Delivery) -> Delivery:
    """A person sends a failed delivery again: same webhook-id and body, attempts go on."""
    updated = Delivery.objects.filter(pk=delivery.pk, status=S.FAILED).update(
        status=S.PENDING, next_attempt_at=timezone.now(), queued_at=timezone.now()
    )
    if not updated:
        raise DeliveryConflict(_("Повторить можно только недоставленное сообщение."))
    _send_after_commit([delivery.pk])
    delivery.refresh_from_db()
    return delivery


# --- Claim, POST, record ----------------------------------------------------------------------


def _earlier_unfinished() -> Exists:
    return Exists(
        Delivery.objects.filter(
            target=OuterRef("target"),
            ordering_key=OuterRef("ordering_key"),
            id__lt=OuterRef("id"),
            status__in=UNFINISHED,
        )
    )


def _eligible(now: datetime):
    return Delivery.objects.filter(status__in=WAITING, next_attempt_at__lte=now).exclude(
        _earlier_unfinished()
    )


def _claim(delivery_id: int) -> Delivery | None:
    """Take one delivery for an attempt if it is due and nothing earlier of its key is
    unfinished: a compare-and-set UPDATE, so two workers never take the same one."""
    now = timezone.now()
    with transaction.atomic():
        claimed = (
            _eligible(now)
            .filter(pk=delivery_id)
            .update(status=S.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now)
        )
    if not claimed:
        return None
    return Delivery.objects.get(pk=delivery_id)


@dataclass
class Answer:
    status_code: int | None
    error: str
    retry_after: float | None
    duration_ms: int


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - timezone.now()).total_seconds(), 0.0)


def sign_headers(*, webhook_id: str, body: str, secret: str, now: datetime) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
        "content-type": "application/json; charset=utf-8",
        "user-agent": "fraudcenter-webhooks/1",
    }


def _post(delivery: Delivery, target: Target) -> Answer:
    """The network part: no transaction is open here."""
    headers = sign_headers(
        webhook_id=delivery.webhook_id,
        body=delivery.payload,
        secret=target.secret,
        now=timezone.now(),
    )
    started = time.monotonic()
    timeout = (settings.DELIVERY_CONNECT_TIMEOUT, settings.DELIVERY_TIMEOUT)
    try:
        response = _session.post(
            target.url,
            data=delivery.payload.encode(),
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout:
        error, code, retry_after = _("Нет ответа за отведённое время."), None, None
    except requests.RequestException as exc:
        error, code, retry_after = (
            _("Нет соединения: %(e)s") % {"e": type(exc).__name__},
            None,
            None,
        )
    else:
        code = response.status_code
        retry_after = _retry_after(response.headers.get("Retry-After"))
        error = "" if 200 <= code < 300 else response.text[:500]
        response.close()
    return Answer(code, error, retry_after, int((time.monotonic() - started) * 1000))


def _verdict(answer: Answer, attempts: int) -> str:
    code = answer.status_code
    if code is not None and 200 <= code < 300:
        return R.DELIVERED
    retryable = code is None or code in (408, 429) or code >= 500
    if retryable and attempts < settings.DELIVERY_MAX_ATTEMPTS:
        return R.RETRY
    return R.FAILED


def retry_delay(attempts: int, retry_after: float | None) -> float:
    """Seconds before the next attempt: the receiver's Retry-After if it gave one, else
    exponential backoff (base × 2^(n-1), capped) with jitter over its upper half."""
    cap = settings.DELIVERY_RETRY_MAX_SECONDS
    if retry_after is not None:
        return min(retry_after, cap)
    ceiling = min(settings.DELIVERY_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), cap)
    return random.uniform(ceiling / 2, ceiling)


def _record(delivery: Delivery, answer: Answer, started_at: datetime) -> str:
    verdict = _verdict(answer, delivery.attempts)
    now = timezone.now()
    fields: dict[str, Any] = {
        "last_status_code": answer.status_code,
        "last_error": answer.error,
        "updated_at": now,
    }
    if verdict == R.DELIVERED:
        fields.update(status=S.DELIVERED, delivered_at=now)
    elif verdict == R.RETRY:
        delay = retry_delay(delivery.attempts, answer.retry_after)
        fields.update(
            status=S.RETRYING, next_attempt_at=now + timedelta(seconds=delay), queued_at=None
        )
    else:
        fields.update(status=S.FAILED)
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            started_at=started_at,
            duration_ms=answer.duration_ms,
            status_code=answer.status_code,
            result=verdict,
            error=answer.error,
        )
        # Only if still ours: the reaper may have taken a row whose worker looked dead.
        Delivery.objects.filter(
            pk=delivery.pk, status=S.SENDING, attempts=delivery.attempts
        ).update(**fields)
        if delivery.ordering_key:  # whoever watches that key (a case page) sees the new state
            push.publish(delivery.ordering_key)
    logger.info(
        "delivery %s to %s: attempt %s %s (%s)",
        delivery.webhook_id, delivery.target, delivery.attempts, verdict, answer.status_code,
    )  # fmt: skip
    return verdict


def _attempt(delivery: Delivery) -> str:
    target = target_config(delivery.target)
    started_at = timezone.now()
    if target is None:
        answer = Answer(None, _("Адрес получателя не настроен."), None, 0)
    else:
        checkpoint(settings.DELIVERY_TEST_HOOK_DIR, "before_post")
        answer = _post(delivery, target)
        checkpoint(settings.DELIVERY_TEST_HOOK_DIR, "after_post")
    return _record(delivery, answer, started_at)


def _next_in_line(delivery: Delivery) -> int | None:
    """The next delivery of the same key that may go now (after one finished)."""
    return (
        _eligible(timezone.now())
        .filter(target=delivery.target, ordering_key=delivery.ordering_key)
        .order_by("id")
        .values_list("pk", flat=True)
        .first()
    )


def delivery_send(delivery_id: int) -> int:
    """The task's work: attempt this delivery if it may go now, then the ones of its key that
    were waiting behind it. Returns the number of attempts made."""
    made = 0
    next_id: int | None = delivery_id
    deadline = time.monotonic() + settings.DELIVERY_TASK_BUDGET
    while next_id is not None and time.monotonic() < deadline:
        delivery = _claim(next_id)
        if delivery is None:
            return made
        made += 1
        if _attempt(delivery) == R.RETRY:
            return made  # the rest of its key waits for it
        next_id = _next_in_line(delivery)
    return made


# --- Beat: the dispatcher and the reaper ------------------------------------------------------


def deliveries_dispatch(*, limit: int = 200) -> int:
    """Put due deliveries on the broker: retries whose time came, and any whose task was lost
    (publish failed, broker restarted). `queued_at` keeps one in the queue at a time; a task
    that is lost is re-sent after DELIVERY_REQUEUE_SECONDS."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.DELIVERY_REQUEUE_SECONDS)
    ids = list(
        _eligible(now)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=stale))
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return 0
    with transaction.atomic():
        Delivery.objects.filter(pk__in=ids).update(queued_at=now)
        _send_after_commit(ids)
    return len(ids)


def deliveries_reap() -> int:
    """A "sending" row older than any attempt can take had its worker die: back to retry now,
    with the interruption in its log. The receiver may get that webhook-id again."""
    now = timezone.now()
    limit = now - timedelta(seconds=settings.DELIVERY_SENDING_TIMEOUT)
    with transaction.atomic():
        stuck = list(
            Delivery.objects.filter(status=S.SENDING, claimed_at__lt=limit)
            .select_for_update(skip_locked=True)
            .values_list("pk", "attempts", "claimed_at")
        )
        if not stuck:
            return 0
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(
                delivery_id=pk,
                number=attempts,
                started_at=claimed_at or now,
                result=R.INTERRUPTED,
                error=_("Обработчик остановился во время отправки; повторяем."),
            )
            for pk, attempts, claimed_at in stuck
        )
        Delivery.objects.filter(pk__in=[pk for pk, _a, _c in stuck], status=S.SENDING).update(
            status=S.RETRYING, next_attempt_at=now, queued_at=None, updated_at=now
        )
    logger.warning("deliveries: %s interrupted attempts put back to retry", len(stuck))
    return len(stuck)
