"""The always-bound SMPP receiver (issue 17) against the test SMSC: «СТОП» and receipts read
while nothing is being sent, enquire_link when quiet, a new bind after a drop, a message it
could not record answered so that the SMSC sends it again."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from cases.models import Subscriber
from cases.roles import Role
from reminders import services
from reminders.backends import reset_backend
from reminders.models import Reminder
from reminders.receiver import ESME_RX_T_APPN, SmppReceiver

from .smsc import SmscServer

# The receiver writes from its own thread: a real database (SQLite's shared in-memory test
# database locks tables across threads).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture
def smsc(settings):
    for role in Role:  # a transactional test's flush removed the groups the migration made
        Group.objects.get_or_create(name=role)
    server = SmscServer().start()
    settings.SMS_BACKEND = "reminders.backends.smpp.SmppBackend"
    settings.SMS_SMPP = {**settings.SMS_SMPP, "PORT": server.port, "TIMEOUT": 1.0}
    settings.SMS_QUIET_HOURS_START = settings.SMS_QUIET_HOURS_END = "00:00"
    reset_backend()
    yield server
    reset_backend()
    server.stop()


@pytest.fixture
def receiver(smsc, settings):
    def start(record=services.reminders_record_incoming) -> SmppReceiver:
        stop = threading.Event()
        r = SmppReceiver(conf=settings.SMS_SMPP, record=record, enquire_every=0.5,
                         max_backoff=1.0, stop=stop)  # fmt: skip
        thread = threading.Thread(target=r.run, daemon=True)
        thread.start()
        started.append((stop, thread))
        _wait(lambda: smsc.receiver_binds >= 1)
        return r

    started: list = []
    yield start
    for stop, thread in started:
        stop.set()
        thread.join(5)


def test_a_stop_is_read_while_nothing_is_being_sent(smsc, receiver):
    receiver()
    assert smsc.send_inbound("СТОП", "89995200000", ton=2) == 1
    _wait(lambda: Subscriber.objects.filter(msisdn="+79995200000", sms_opt_out=True).exists())
    assert smsc.deliver_resps == [0]


def test_the_receipts_come_to_the_receiver_and_mark_the_sms_delivered(
    smsc, receiver, make_case, specialist
):
    receiver()
    case = make_case()
    reminder, _ = services.reminder_schedule_manual(
        case=case, text="Никому не называйте коды.", send_after=None, request_id="rcpt",
        actor=specialist,
    )  # fmt: skip
    Reminder.objects.filter(case=case).update(send_after=timezone.now() - timedelta(seconds=1))
    services.reminders_send_batch()  # the worker sends, and does not poll afterwards
    _wait(lambda: Reminder.objects.get(pk=reminder.pk).status == Reminder.Status.DELIVERED)


def test_the_receiver_binds_again_after_a_drop_and_nothing_is_lost(smsc, receiver):
    r = receiver()
    smsc.drop_all_connections()
    _wait(lambda: smsc.receiver_binds >= 2)
    _wait(lambda: smsc.send_inbound("Стоп", "79995200001", ton=2) >= 1)
    _wait(lambda: Subscriber.objects.filter(msisdn="+79995200001", sms_opt_out=True).exists())
    assert r.binds >= 2


def test_quiet_lines_get_enquire_link(smsc, receiver):
    receiver()
    before = smsc.enquire_links
    _wait(lambda: smsc.enquire_links >= before + 2, timeout=5)


def test_a_message_it_could_not_record_is_refused_for_the_smsc_to_resend(smsc, receiver):
    def broken(item):
        raise RuntimeError("database down")

    receiver(record=broken)
    smsc.send_inbound("СТОП", "+79995200002")
    _wait(lambda: smsc.deliver_resps == [ESME_RX_T_APPN])
    assert not Subscriber.objects.filter(msisdn="+79995200002").exists()
