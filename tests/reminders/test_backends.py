"""The SMPP and HTTP backends against real servers on 127.0.0.1, driven by the dispatcher."""

import json
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from reminders import services
from reminders.backends import reset_backend
from reminders.models import Reminder

pytestmark = pytest.mark.django_db
S = Reminder.Status
OUT = (S.SENT, S.DELIVERED)  # receipts may be read in the same dispatch round
LONG = "Обращение принято. " * 6  # 114 characters of Cyrillic: two UCS-2 parts


@pytest.fixture(autouse=True)
def daytime():
    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))):
        yield


def _due_reminders(sms_case, specialist, texts):
    case = sms_case()
    Reminder.objects.filter(case=case).delete()
    for i, text in enumerate(texts):
        services.reminder_schedule_manual(
            case=case, text=text, send_after=None, request_id=f"r{i}", actor=specialist
        )
    Reminder.objects.update(send_after=timezone.now() - timedelta(seconds=1))
    return list(Reminder.objects.filter(case=case).order_by("pk"))


def _wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        services.reminders_poll_backend()
        time.sleep(0.05)
    return False


def test_smpp_sends_ucs2_splits_long_texts_and_the_receipt_marks_delivered(
    smsc, sms_case, specialist
):
    short, long = _due_reminders(sms_case, specialist, ["Никому не называйте коды.", LONG])
    assert services.reminders_dispatch(budget_seconds=0) == 2
    assert len(smsc.submits) == 3  # 1 + 2 parts
    assert {s.data_coding for s in smsc.submits} == {8}  # UCS-2
    udh = [s for s in smsc.submits if s.esm_class & 0x40]
    assert len(udh) == 2 and [p.short_message[5] for p in udh] == [1, 2]  # part 1 of 2, 2 of 2
    assert smsc.accepted_texts() == ["Никому не называйте коды.", LONG[:67]]
    assert smsc.submits[0].destination == str(short.subscriber.msisdn).lstrip("+")
    short.refresh_from_db()
    assert short.status in OUT and short.gateway_message_id == smsc.submits[0].message_id
    assert _wait_for(lambda: Reminder.objects.filter(status=S.DELIVERED).count() == 2)


def test_smpp_throttling_is_retried_later_and_sent_once(smsc, sms_case, specialist):
    (reminder,) = _due_reminders(sms_case, specialist, ["Текст"])
    smsc.refuse_status, smsc.refuse_count = 0x58, 1  # ESME_RTHROTTLED
    services.reminders_dispatch(budget_seconds=0)
    reminder.refresh_from_db()
    # The SMSC's flow control: soon again, and the attempt does not count (issue 17).
    assert reminder.status == S.SCHEDULED and "медленнее" in reminder.last_error
    assert reminder.attempts == 0
    assert timedelta(seconds=4) < reminder.send_after - timezone.now() <= timedelta(seconds=5)
    Reminder.objects.update(send_after=timezone.now())
    services.reminders_dispatch(budget_seconds=0)
    reminder.refresh_from_db()
    assert reminder.status in OUT and reminder.attempts == 1
    assert len(smsc.accepted()) == 1


def test_throttling_never_uses_up_the_attempts(smsc, sms_case, specialist, settings):
    (reminder,) = _due_reminders(sms_case, specialist, ["Текст"])
    smsc.refuse_status, smsc.refuse_count = 0x14, settings.SMS_MAX_ATTEMPTS + 2  # MSGQFUL
    for _ in range(settings.SMS_MAX_ATTEMPTS + 2):
        Reminder.objects.update(send_after=timezone.now())
        services.reminders_dispatch(budget_seconds=0)
    reminder.refresh_from_db()
    assert reminder.status == S.SCHEDULED and reminder.attempts == 0
    Reminder.objects.update(send_after=timezone.now())
    services.reminders_dispatch(budget_seconds=0)
    assert len(smsc.accepted()) == 1


def test_submits_keep_to_the_configured_rate(smsc, sms_case, specialist, settings):
    settings.SMS_SMPP = {**settings.SMS_SMPP, "MAX_RATE": 40.0}
    reset_backend()
    _due_reminders(sms_case, specialist, [f"Текст {i}" for i in range(41)])
    started = time.monotonic()
    services.reminders_dispatch(budget_seconds=0)
    elapsed = time.monotonic() - started
    assert len(smsc.accepted()) == 41
    assert elapsed >= 1.0  # 41 submits at 40 a second: at least a second


def test_smpp_invalid_destination_fails_at_once(smsc, sms_case, specialist):
    (reminder,) = _due_reminders(sms_case, specialist, ["Текст"])
    smsc.refuse_status, smsc.refuse_count = 0x0B, 1  # ESME_RINVDSTADR
    services.reminders_dispatch(budget_seconds=0)
    reminder.refresh_from_db()
    assert reminder.status == S.FAILED and reminder.attempts == 1


def test_a_refused_bind_sends_nothing_and_retries(smsc, sms_case, specialist):
    (reminder,) = _due_reminders(sms_case, specialist, ["Текст"])
    smsc.refuse_bind = True
    services.reminders_dispatch(budget_seconds=0)
    reminder.refresh_from_db()
    assert reminder.status == S.SCHEDULED and smsc.submits == []
    smsc.refuse_bind = False
    Reminder.objects.update(send_after=timezone.now())
    services.reminders_dispatch(budget_seconds=0)
    assert len(smsc.accepted()) == 1


def test_a_dropped_connection_marks_the_unanswered_sms_unknown_and_the_rest_go_once(
    smsc, sms_case, specialist
):
    reminders = _due_reminders(sms_case, specialist, [f"Текст {i}" for i in range(5)])
    smsc.drop_on_submit = 3
    services.reminders_dispatch(budget_seconds=0)
    statuses = Counter(Reminder.objects.values_list("status", flat=True))
    # The dropped SMS (and any whose answer the hang-up swallowed) is unknown, never retried.
    assert statuses[S.UNKNOWN] >= 1
    assert set(statuses) <= {S.SENT, S.DELIVERED, S.UNKNOWN, S.SCHEDULED}
    # The reminders never written to the socket are retried on a fresh session, once each.
    Reminder.objects.filter(status=S.SCHEDULED).update(send_after=timezone.now())
    services.reminders_dispatch(budget_seconds=0)
    final = Counter(Reminder.objects.values_list("status", flat=True))
    assert (
        set(final) <= {S.SENT, S.DELIVERED, S.UNKNOWN} and final[S.UNKNOWN] == statuses[S.UNKNOWN]
    )
    texts = smsc.accepted_texts()
    assert len(texts) == len(set(texts))  # nothing twice
    out = final[S.SENT] + final[S.DELIVERED]
    assert out <= len(texts) <= out + final[S.UNKNOWN]
    assert sum(final.values()) == len(reminders) == 5


def _scheduled() -> int:
    return Reminder.objects.filter(status=S.SCHEDULED).count()


def test_a_slow_smsc_within_the_timeout_is_fine_beyond_it_the_sms_is_unknown(
    smsc, sms_case, specialist
):
    first, second = _due_reminders(sms_case, specialist, ["Раз", "Два"])
    Reminder.objects.filter(pk=second.pk).update(send_after=timezone.now() + timedelta(hours=1))
    smsc.delay = 0.3
    services.reminders_dispatch(budget_seconds=0)
    assert Reminder.objects.get(pk=first.pk).status in OUT
    smsc.delay = 1.5  # beyond the 1 s timeout
    Reminder.objects.filter(pk=second.pk).update(send_after=timezone.now())
    services.reminders_dispatch(budget_seconds=0)
    assert Reminder.objects.get(pk=second.pk).status == S.UNKNOWN


class _Gateway(BaseHTTPRequestHandler):
    received: list[dict] = []
    answers: list[int] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Gateway.received.append({**body, "secret": self.headers.get("X-Fraudcenter-Secret")})
        code = _Gateway.answers.pop(0) if _Gateway.answers else 200
        payload = json.dumps({"message_id": f"gw-{len(_Gateway.received)}"}).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_the_http_gateway_backend_posts_json_and_maps_answers(settings, sms_case, specialist):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Gateway.received.clear()
    _Gateway.answers[:] = [503, 400]
    settings.SMS_BACKEND = "reminders.backends.http.HttpGatewayBackend"
    settings.SMS_HTTP_URL = f"http://127.0.0.1:{server.server_port}/send"
    settings.SMS_HTTP_SECRET = "gw-secret"
    reset_backend()
    try:
        a, b, c = _due_reminders(sms_case, specialist, ["Раз", "Два", "Три"])
        services.reminders_dispatch(budget_seconds=0)
        status = dict(Reminder.objects.values_list("pk", "status"))
        assert [status[a.pk], status[b.pk], status[c.pk]] == [S.SCHEDULED, S.FAILED, S.SENT]
        assert _Gateway.received[0] == {
            "to": str(a.subscriber.msisdn), "text": "Раз", "reference": f"fc-{a.pk}",
            "secret": "gw-secret",
        }  # fmt: skip
        assert Reminder.objects.get(pk=c.pk).gateway_message_id == "gw-3"
    finally:
        server.shutdown()
        reset_backend()
    settings.SMS_HTTP_URL = "http://127.0.0.1:9/refused"  # nothing listens: retry later
    Reminder.objects.filter(pk=a.pk).update(send_after=timezone.now())
    services.reminders_dispatch(budget_seconds=0)
    assert Reminder.objects.get(pk=a.pk).status == S.SCHEDULED
    reset_backend()
