"""The outbound webhook sender against the test chat backend (a real HTTP server on
127.0.0.1), the task's work called in-process: signatures, retries, order, the reaper."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from deliveries.models import Delivery, DeliveryAttempt
from deliveries.receiver import Answer
from deliveries.secrets import check_secret
from deliveries.services import (
    DeliveryConflict,
    deliveries_dispatch,
    deliveries_reap,
    delivery_enqueue,
    delivery_resend,
    delivery_send,
    retry_delay,
    sign_headers,
)
from tests.chat_server import SECRET

pytestmark = pytest.mark.django_db
S = Delivery.Status


def _enqueue(key: str = "case:1", n: int = 0) -> Delivery:
    return delivery_enqueue(
        target="chat", event_type="chat.message", ordering_key=key,
        data={"message_id": f"fc-{key}-{n}", "text": f"Ответ {n}: никому не называйте код."},
    )  # fmt: skip


def _due_now(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_a_delivery_is_signed_as_standard_webhooks_say_and_arrives_once(chat_server):
    d = _enqueue()
    assert delivery_send(d.pk) == 1
    d.refresh_from_db()
    assert d.status == S.DELIVERED and d.attempts == 1 and d.delivered_at
    [got] = chat_server.accepted()
    assert got.webhook_id == d.webhook_id and got.webhook_id.startswith("msg_")
    assert got.body == json.loads(d.payload)
    assert got.body["type"] == "chat.message" and got.body["data"]["text"].startswith("Ответ 0")
    [attempt] = d.log.all()
    assert attempt.status_code == 200 and attempt.result == "delivered"
    assert delivery_send(d.pk) == 0  # a second task for it does nothing


def test_the_signature_verifies_with_the_standard_webhooks_library_and_only_with_its_secret():
    now = timezone.now()
    body = '{"type":"chat.message","data":{"text":"Здравствуйте"}}'
    headers = sign_headers(webhook_id="msg_1", body=body, secret=SECRET, now=now)
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)
    other = "whsec_" + "A" * 43 + "="
    with pytest.raises(Exception, match="signature"):
        Webhook(other).verify(body, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(body.replace("Здравствуйте", "Привет"), headers)


def test_a_request_with_a_wrong_signature_is_refused_by_the_test_backend(chat_server):
    headers = sign_headers(webhook_id="msg_x", body="{}", secret=SECRET, now=timezone.now())
    response = requests.post(chat_server.url, data="{ }", headers=headers, timeout=5)
    assert response.status_code == 401
    assert chat_server.summary()["rejected"] == 1 and not chat_server.accepted()


def test_5xx_is_retried_later_with_the_same_webhook_id(chat_server):
    chat_server.script(Answer(503), Answer(502))
    d = _enqueue()
    before = timezone.now()
    delivery_send(d.pk)
    d.refresh_from_db()
    assert d.status == S.RETRYING and d.last_status_code == 503 and d.queued_at is None
    # Backoff with jitter: between half and all of base × 2^0 = 2 s.
    assert before + timedelta(seconds=0.9) <= d.next_attempt_at <= before + timedelta(seconds=3)
    assert delivery_send(d.pk) == 0  # not due yet
    for _ in range(2):
        _due_now(d)
        delivery_send(d.pk)
    d.refresh_from_db()
    assert d.status == S.DELIVERED and d.attempts == 3
    ids = {r.webhook_id for r in chat_server.state.requests}
    assert ids == {d.webhook_id} and len(chat_server.state.requests) == 3
    assert [a.result for a in d.log.all()] == ["retry", "retry", "delivered"]


@pytest.mark.parametrize("code", [408, 429])
def test_408_and_429_are_retried_and_retry_after_is_honoured(chat_server, code):
    chat_server.script(Answer(code, retry_after="7"))
    d = _enqueue()
    before = timezone.now()
    delivery_send(d.pk)
    d.refresh_from_db()
    assert d.status == S.RETRYING
    assert before + timedelta(seconds=6.5) <= d.next_attempt_at <= before + timedelta(seconds=8)


@pytest.mark.parametrize("code", [400, 401, 404, 410, 422])
def test_other_4xx_is_final_and_a_person_can_send_it_again(chat_server, code):
    chat_server.script(Answer(code))
    d = _enqueue()
    delivery_send(d.pk)
    d.refresh_from_db()
    assert d.status == S.FAILED and d.attempts == 1 and d.last_status_code == code
    d = delivery_resend(delivery=d)
    assert d.status == S.PENDING
    delivery_send(d.pk)
    d.refresh_from_db()
    assert d.status == S.DELIVERED and d.attempts == 2
    assert [r.webhook_id for r in chat_server.accepted()] == [d.webhook_id]
    with pytest.raises(DeliveryConflict):
        delivery_resend(delivery=d)


def test_a_timeout_is_retried_and_the_backend_keeps_the_message_once(chat_server):
    chat_server.script(Answer(200, delay=2.5))  # done, but answers after our 1 s timeout
    d = _enqueue()
    delivery_send(d.pk)
    d.refresh_from_db()
    assert d.status == S.RETRYING and d.last_status_code is None
    assert "время" in d.last_error
    _due_now(d)
    delivery_send(d.pk)
    d.refresh_from_db()
    assert d.status == S.DELIVERED
    assert len(chat_server.accepted()) == 1 and chat_server.summary()["duplicates"] == 1


def test_no_connection_is_retried_until_the_attempts_run_out(settings):
    settings.DELIVERY_TARGETS = {"chat": {"URL": "http://127.0.0.1:9/chat/", "SECRET": SECRET}}
    settings.DELIVERY_MAX_ATTEMPTS = 3
    d = _enqueue()
    for _ in range(3):
        _due_now(d)
        delivery_send(d.pk)
    d.refresh_from_db()
    assert d.status == S.FAILED and d.attempts == 3
    assert [a.result for a in d.log.all()] == ["retry", "retry", "failed"]
    assert "соединения" in d.last_error


def test_without_an_address_nothing_is_lost(settings):
    settings.DELIVERY_TARGETS = {"chat": {"URL": "", "SECRET": ""}}
    d = _enqueue()
    delivery_send(d.pk)
    d.refresh_from_db()
    assert d.status == S.RETRYING and "не настроен" in d.last_error


def test_one_keys_deliveries_go_in_order_and_a_retrying_one_holds_the_rest(chat_server):
    chat_server.script(Answer(503))
    first, second, third = (_enqueue("case:7", n) for n in range(3))
    other = _enqueue("case:8", 0)
    assert delivery_send(second.pk) == 0  # the first has not gone yet
    assert delivery_send(first.pk) == 1  # 503: retrying, holds the others back
    assert delivery_send(second.pk) == 0
    assert delivery_send(other.pk) == 1  # another case is not held
    _due_now(first)
    assert delivery_send(first.pk) == 3  # the first, then the two waiting behind it
    texts = [r.body["data"]["message_id"] for r in chat_server.accepted()]
    assert texts == ["fc-case:8-0", "fc-case:7-0", "fc-case:7-1", "fc-case:7-2"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {S.DELIVERED}


def test_a_failed_delivery_does_not_hold_the_next_ones(chat_server):
    chat_server.script(Answer(400))
    first, second = _enqueue("case:9", 0), _enqueue("case:9", 1)
    assert delivery_send(first.pk) == 2
    assert dict(Delivery.objects.values_list("pk", "status")) == {
        first.pk: S.FAILED, second.pk: S.DELIVERED,
    }  # fmt: skip


def test_the_reaper_puts_a_dead_workers_delivery_back_to_retry(chat_server, settings):
    d = _enqueue()
    old = timezone.now() - timedelta(seconds=settings.DELIVERY_SENDING_TIMEOUT + 1)
    Delivery.objects.filter(pk=d.pk).update(status=S.SENDING, attempts=1, claimed_at=old)
    fresh = _enqueue("case:2")
    Delivery.objects.filter(pk=fresh.pk).update(
        status=S.SENDING, attempts=1, claimed_at=timezone.now()
    )
    assert deliveries_reap() == 1
    d.refresh_from_db()
    assert d.status == S.RETRYING and d.queued_at is None
    [attempt] = d.log.all()
    assert attempt.result == DeliveryAttempt.Result.INTERRUPTED
    assert Delivery.objects.get(pk=fresh.pk).status == S.SENDING  # still within its time
    delivery_send(d.pk)
    d.refresh_from_db()
    assert d.status == S.DELIVERED and d.attempts == 2


def test_a_late_result_after_the_reaper_took_the_row_changes_nothing(chat_server):
    from deliveries.services import Answer as Result
    from deliveries.services import _claim, _record

    d = _enqueue()
    claimed = _claim(d.pk)
    assert claimed is not None
    # The reaper and another worker took it meanwhile (attempts moved on).
    Delivery.objects.filter(pk=d.pk).update(status=S.DELIVERED, attempts=2)
    _record(claimed, Result(503, "late", None, 10), timezone.now())
    d.refresh_from_db()
    assert d.status == S.DELIVERED and d.attempts == 2
    assert d.log.count() == 1  # the late attempt is still in the log


def test_the_dispatcher_queues_due_and_lost_ones_once(
    chat_server, django_capture_on_commit_callbacks
):
    fresh = _enqueue("case:1")  # queued at enqueue: its task is on the broker
    lost = _enqueue("case:2")
    Delivery.objects.filter(pk=lost.pk).update(queued_at=timezone.now() - timedelta(hours=1))
    retry = _enqueue("case:3")
    Delivery.objects.filter(pk=retry.pk).update(status=S.RETRYING, queued_at=None)
    later = _enqueue("case:4")
    Delivery.objects.filter(pk=later.pk).update(
        status=S.RETRYING, queued_at=None, next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert deliveries_dispatch() == 2
    assert len(callbacks) == 1
    queued = set(Delivery.objects.filter(queued_at__isnull=False).values_list("pk", flat=True))
    assert queued == {fresh.pk, lost.pk, retry.pk}
    with django_capture_on_commit_callbacks():
        assert deliveries_dispatch() == 0  # both are on the broker now


def test_backoff_grows_and_is_capped(settings):
    settings.DELIVERY_RETRY_BASE_SECONDS, settings.DELIVERY_RETRY_MAX_SECONDS = 2, 60
    for attempts, ceiling in [(1, 2), (2, 4), (3, 8), (6, 60), (12, 60)]:
        delays = [retry_delay(attempts, None) for _ in range(50)]
        assert all(ceiling / 2 <= x <= ceiling for x in delays)
        assert len(set(delays)) > 1  # jitter
    assert retry_delay(1, 30.0) == 30.0 and retry_delay(1, 3600.0) == 60


@pytest.mark.parametrize("secret", ["", "secret", "whsec_", "whsec_not-base64!", "whsec_c2hvcnQ="])
def test_a_bad_secret_is_refused_at_startup(secret):
    with pytest.raises(ImproperlyConfigured, match="CHAT_WEBHOOK_SECRET"):
        check_secret(secret, "CHAT_WEBHOOK_SECRET")
    check_secret(SECRET, "CHAT_WEBHOOK_SECRET")
