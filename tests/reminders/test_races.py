"""Concurrent claim vs cancel / opt-out on PostgreSQL: exactly one side wins, and a
cancelled or opted-out reminder is never handed to the gateway."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from cases.roles import Role
from reminders import services
from reminders.models import Reminder

pytestmark = pytest.mark.postgres
S = Reminder.Status


@pytest.fixture
def groups(transactional_db, settings):
    settings.SMS_QUIET_HOURS_START = settings.SMS_QUIET_HOURS_END = "00:00"
    for role in Role:
        Group.objects.get_or_create(name=role)


def _race(first, second):
    barrier = threading.Barrier(2)
    out = {}

    def run(name, fn):
        barrier.wait()
        try:
            out[name] = fn()
        except Exception as exc:  # noqa: BLE001 - the loser's error is the result
            out[name] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n, f)) for n, f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_cancel_racing_a_claim_never_lets_a_cancelled_reminder_out(groups, sms_case, specialist):
    case = sms_case()
    wins = {"claim": 0, "cancel": 0}
    for i in range(15):
        reminder, _ = services.reminder_schedule_manual(
            case=case, text=f"Текст {i}", send_after=None, request_id=f"r{i}", actor=specialist
        )
        Reminder.objects.filter(pk=reminder.pk).update(send_after=timezone.now() - timedelta(1))
        out = _race(
            ("claim", lambda: [r.pk for r in services.reminders_claim_due()]),
            ("cancel", lambda r=reminder: services.reminder_cancel(reminder=r, actor=specialist)),
        )
        status = Reminder.objects.get(pk=reminder.pk).status
        claimed = reminder.pk in out["claim"]
        if claimed:
            assert status == S.SENDING and isinstance(out["cancel"], services.ReminderConflict)
            wins["claim"] += 1
            Reminder.objects.filter(pk=reminder.pk).update(status=S.SENT)
        else:
            assert status == S.CANCELLED and not isinstance(out["cancel"], Exception)
            wins["cancel"] += 1
    assert sum(wins.values()) == 15


def test_opt_out_racing_the_dispatcher_is_never_followed_by_a_send(groups, sms_case, sms_locmem):
    for i in range(10):
        case = sms_case(phone=f"+7916777{i:04d}")
        Reminder.objects.filter(case=case).update(send_after=timezone.now() - timedelta(1))
        out = _race(
            ("send", lambda: services.reminders_send_batch()),
            ("stop", lambda c=case: services.reminder_inbound_message(
                msisdn=str(c.subscriber.msisdn), text="СТОП")),
        )  # fmt: skip
        assert out["stop"] is True
        reminder = Reminder.objects.get(case=case)
        sent = any(m.reminder_id == reminder.pk for m in sms_locmem.outbox)
        # Either the SMS went out before the opt-out was committed, or it was skipped.
        assert (reminder.status == S.SENT) == sent
        assert reminder.status in (S.SENT, S.SKIPPED_OPT_OUT)
