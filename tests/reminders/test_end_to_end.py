"""End to end with real parts: PostgreSQL, a private redis-server as the broker, a real
Celery worker and beat as subprocesses, the SMPP backend and the test SMSC on 127.0.0.1.

Each fault test counts the PDUs the SMSC accepted: nothing lost (every reminder ends
delivered, or "unknown" for a person when a worker died mid-send), nothing sent twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from cases.roles import Role
from cases.services import case_open
from reminders.models import Reminder
from reminders.services import reminder_schedule_manual
from tests.processes import ProcessGroup, Redis, wait_for

from .smsc import SmscServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
S = Reminder.Status


class Stack(ProcessGroup):
    """Worker and beat processes with the environment pointing at our own parts."""

    def __init__(self, tmp: Path, redis: Redis, smsc: SmscServer) -> None:
        db = connection.settings_dict
        self.hooks = tmp / "hooks"
        self.hooks.mkdir(exist_ok=True)
        self.tmp = tmp
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis.port}/0",
            "FRAUDCENTER_VAR_DIR": str(tmp / "var"),
            "SMS_BACKEND": "smpp",
            "SMS_SMPP_PORT": str(smsc.port),
            "SMS_SMPP_TIMEOUT": "2",
            "SMS_DISPATCH_INTERVAL": "0.5",
            "SMS_REAPER_INTERVAL": "1",
            "SMS_SENDING_TIMEOUT": "4",
            "SMS_RETRY_BASE_SECONDS": "1",
            "SMS_QUIET_HOURS_START": "00:00",  # no quiet hours: the test runs at any hour
            "SMS_QUIET_HOURS_END": "00:00",
            "SMS_TEST_HOOK_DIR": str(self.hooks),
            "CONN_MAX_AGE": "0",
        }
        super().__init__(tmp, self.env)

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        return self.start(name, [str(BIN / "celery"), "-A", "fraudcenter", *args])

    def start_worker(self) -> subprocess.Popen:
        return self._start(
            "worker", ["worker", "--pool=solo", "-l", "INFO", "-n", f"w{self.n}@%h",
                       "--without-gossip", "--without-mingle", "--without-heartbeat"],
        )  # fmt: skip

    def start_beat(self) -> subprocess.Popen:
        return self._start("beat", ["beat", "-l", "INFO", f"--schedule={self.tmp / 'beat'}"])

    def start_receiver(self) -> subprocess.Popen:
        """The always-bound SMPP receiver, as its systemd unit runs it."""
        return self.start("receiver", [str(BIN / "python"), "manage.py", "smpp_receiver"])

    def hold(self, point: str) -> Path:
        (self.hooks / f"{point}.hold").touch()
        return self.hooks / f"{point}.reached"

    def release(self, point: str) -> None:
        (self.hooks / f"{point}.hold").unlink(missing_ok=True)


@pytest.fixture
def parts(transactional_db, tmp_path, settings):
    settings.SMS_QUIET_HOURS_START = settings.SMS_QUIET_HOURS_END = "00:00"
    for role in Role:  # a transactional test's flush removed the groups the migration made
        Group.objects.get_or_create(name=role)
    redis = Redis(tmp_path)
    redis.start()
    smsc = SmscServer().start()
    stack = Stack(tmp_path, redis, smsc)
    yield stack, redis, smsc
    stack.stop()
    smsc.stop()
    redis.stop()


@pytest.fixture
def make_due(category, specialist):
    case = case_open(
        actor=specialist, channel="hotline", category=category, phone="+79165550101",
        summary="e2e",
    )  # fmt: skip
    counter = iter(range(10**6))

    def make(n: int) -> list[int]:
        ids = []
        for _ in range(n):
            i = next(counter)
            reminder, _created = reminder_schedule_manual(
                case=case, text=f"Напоминание {i}: никому не называйте коды.", send_after=None,
                request_id=f"e2e-{i}", actor=specialist,
            )  # fmt: skip
            ids.append(reminder.pk)
        return ids

    return make


def _statuses(ids: list[int]) -> Counter:
    return Counter(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True))


def _settled(ids: list[int]) -> bool:
    return set(_statuses(ids)) <= {S.DELIVERED, S.UNKNOWN}


def _no_duplicates(smsc: SmscServer) -> None:
    texts = smsc.accepted_texts()
    assert len(texts) == len(set(texts)), Counter(texts).most_common(3)


def test_a_due_reminder_goes_out_once_and_its_receipt_marks_it_delivered(parts, make_due):
    stack, _redis, smsc = parts
    stack.start_worker()
    stack.start_beat()
    ids = make_due(20)
    wait_for(lambda: _statuses(ids) == Counter({S.DELIVERED: 20}), 60, "20 delivered")
    time.sleep(1.5)  # more beat ticks: nothing goes out again
    assert len(smsc.accepted()) == 20 and smsc.receipts_sent == 20
    _no_duplicates(smsc)
    row = Reminder.objects.get(pk=ids[0])
    assert row.attempts == 1 and row.gateway_message_id.startswith("M") and row.delivered_at


@pytest.mark.parametrize("point", ["after_claim", "after_send"])
def test_a_worker_killed_mid_send_loses_nothing_and_sends_nothing_twice(parts, make_due, point):
    stack, _redis, smsc = parts
    reached = stack.hold(point)
    stuck = make_due(5)  # all due before the worker starts: they make one batch
    stack.start_worker()
    stack.start_beat()
    wait_for(reached.exists, 60, f"the worker at {point}")
    stack.kill("worker")  # SIGKILL, exactly at the checkpoint
    sent_before = len(smsc.accepted())
    assert sent_before == (0 if point == "after_claim" else 5)
    assert _statuses(stuck) == Counter({S.SENDING: 5})
    stack.release(point)
    stack.start_worker()
    later = make_due(5)
    # The reaper turns the dead worker's batch into "unknown" (never resent); the rest go.
    wait_for(lambda: _settled(stuck + later), 60, "all settled")
    assert _statuses(stuck) == Counter({S.UNKNOWN: 5})
    assert _statuses(later) == Counter({S.DELIVERED: 5})
    time.sleep(1.5)
    assert len(smsc.accepted()) == sent_before + 5
    _no_duplicates(smsc)


def test_a_broker_restart_delays_but_loses_and_duplicates_nothing(parts, make_due):
    stack, redis, smsc = parts
    stack.start_worker()
    stack.start_beat()
    first = make_due(5)
    wait_for(lambda: _statuses(first) == Counter({S.DELIVERED: 5}), 60, "first batch")
    redis.stop()  # the broker goes away for a while
    during = make_due(10)
    time.sleep(3)
    assert len(smsc.accepted()) == 5  # nothing can be dispatched without the broker
    redis.start()
    wait_for(lambda: _statuses(during) == Counter({S.DELIVERED: 10}), 90, "after the restart")
    time.sleep(1.5)
    assert len(smsc.accepted()) == 15
    _no_duplicates(smsc)


def test_an_smsc_that_refuses_then_comes_back_gets_each_sms_once(parts, make_due):
    stack, _redis, smsc = parts
    smsc.refuse_bind = True
    stack.start_worker()
    stack.start_beat()
    ids = make_due(10)
    tried = Reminder.objects.filter(pk__in=ids, attempts__gte=1, status=S.SCHEDULED)
    wait_for(lambda: tried.count() == 10, 60, "a refused try for each")
    assert smsc.submits == [] and "bind" in Reminder.objects.get(pk=ids[0]).last_error
    smsc.refuse_bind = False
    wait_for(lambda: _statuses(ids) == Counter({S.DELIVERED: 10}), 60, "delivered after retry")
    assert len(smsc.accepted()) == 10
    _no_duplicates(smsc)
