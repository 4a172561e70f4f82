"""Issue 17 end to end: a real Celery worker and beat on a private redis-server, the
always-bound receiver as its own process, PostgreSQL, and the test SMSC behaving as an
operator's does. Each run counts what the SMSC took and what the database says."""

from __future__ import annotations

import pytest

from cases.models import Subscriber
from cases.services import case_open
from reminders.models import Reminder
from reminders.services import reminder_schedule_manual
from tests.processes import wait_for

from .test_end_to_end import make_due, parts  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
S = Reminder.Status
LONG = "Обращение принято. Никому не называйте коды из SMS и не переходите по ссылкам. " * 4


@pytest.fixture
def long_sms(category, specialist):
    case = case_open(
        actor=specialist, channel="hotline", category=category, phone="+79165550177",
        summary="e2e",
    )  # fmt: skip
    Reminder.objects.filter(case=case).delete()

    def make(n: int) -> list[int]:
        return [
            reminder_schedule_manual(
                case=case, text=f"{i}. {LONG}".strip(), send_after=None, request_id=f"long-{i}",
                actor=specialist,
            )[0].pk
            for i in range(n)
        ]  # fmt: skip

    return make


def _statuses(ids):
    return set(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True))


def test_one_submit_in_seven_refused_leaves_no_fragment(parts, long_sms):  # noqa: F811
    stack, _redis, smsc = parts
    smsc.refuse_every = 7
    stack.start_receiver()
    stack.start_worker()
    stack.start_beat()
    ids = long_sms(20)
    wait_for(lambda: _statuses(ids) == {S.DELIVERED}, 120, "20 long SMS delivered")
    handset = smsc.handset_texts()
    assert len(handset) == 20 and not any(t.startswith("[incomplete]") for t in handset)
    keys = [(s.destination, s.short_message[:6]) for s in smsc.accepted()]
    assert len(keys) == len(set(keys)) == 20 * 5
    refused = sum(1 for s in smsc.submits if s.status)
    print(f"\ne2e, 1 in 7 refused: {len(smsc.submits)} submits, {refused} refused, 100 parts "
          f"once each, 20/20 complete and delivered")  # fmt: skip


def test_an_smsc_throttling_above_its_rate_gets_each_sms_once(parts, make_due):  # noqa: F811
    stack, _redis, smsc = parts
    stack.env["SMS_SMPP_MAX_RATE"] = "40"
    stack.env["SMS_THROTTLE_BACKOFF_SECONDS"] = "1"
    smsc.max_rate = 10
    stack.start_receiver()
    stack.start_worker()
    stack.start_beat()
    ids = make_due(60)
    wait_for(lambda: _statuses(ids) == {S.DELIVERED}, 120, "60 SMS delivered")
    assert smsc.throttled > 0
    assert set(Reminder.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
    texts = smsc.accepted_texts()
    assert len(texts) == len(set(texts)) == 60
    print(f"\ne2e, SMSC at 10/s: 60 SMS, {smsc.throttled} throttled answers, each taken once")


def test_a_national_stop_while_nobody_sends_and_after_the_receiver_restarts(parts):  # noqa: F811
    stack, _redis, smsc = parts
    stack.start_receiver()
    wait_for(lambda: smsc.receiver_binds >= 1, 60, "the receiver's bind")
    assert smsc.send_inbound("Стоп", "89995200000", ton=2) == 1
    wait_for(
        lambda: Subscriber.objects.filter(msisdn="+79995200000", sms_opt_out=True).exists(),
        30, "the opt-out",
    )  # fmt: skip
    stack.kill("receiver")
    stack.start_receiver()
    wait_for(lambda: smsc.receiver_binds >= 2, 60, "a new bind")
    wait_for(lambda: smsc.send_inbound("СТОП", "79995200001", ton=2) >= 1, 10, "a session")
    wait_for(
        lambda: Subscriber.objects.filter(msisdn="+79995200001", sms_opt_out=True).exists(),
        30, "the second opt-out",
    )  # fmt: skip
