"""Chat replies end to end with real parts: gunicorn serving the API, a Celery worker and beat
on a private redis-server, PostgreSQL, and the test chat backend (a real HTTP server that
verifies every signature). Replies are sent over HTTP, as the case page's reply box does.

Each fault run counts what the backend accepted: every reply arrives, once per webhook-id,
in the order it was written; no row stays "sending"."""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import Group
from django.db import connection
from knox.models import AuthToken

from cases.models import ChatMessage
from cases.roles import Role
from cases.services import case_assign
from deliveries.models import Delivery
from deliveries.receiver import Answer, ChatBackend
from tests.chat_server import SECRET
from tests.processes import ProcessGroup, Redis, free_port, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
D = Delivery.Status


class Stack(ProcessGroup):
    def __init__(self, tmp: Path, redis: Redis, backend: ChatBackend) -> None:
        db = connection.settings_dict
        self.tmp, self.hooks = tmp, tmp / "hooks"
        self.hooks.mkdir(exist_ok=True)
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DEBUG")},
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis.port}/0",
            "FRAUDCENTER_VAR_DIR": str(tmp / "var"),
            "CHAT_WEBHOOK_URL": backend.url,
            "CHAT_WEBHOOK_SECRET": SECRET,
            "DELIVERY_CONNECT_TIMEOUT": "1",
            "DELIVERY_TIMEOUT": "1",
            "DELIVERY_SENDING_TIMEOUT": "4",
            "DELIVERY_REAPER_INTERVAL": "1",
            "DELIVERY_DISPATCH_INTERVAL": "0.5",
            "DELIVERY_RETRY_BASE_SECONDS": "0.5",
            "DELIVERY_REQUEUE_SECONDS": "5",
            "DELIVERY_TEST_HOOK_DIR": str(self.hooks),
            "CONN_MAX_AGE": "0",
            "SMS_BACKEND": "console",
        }
        super().__init__(tmp, self.env)

    def start_web(self) -> None:
        bind = f"127.0.0.1:{self.port}"
        self.start("web", [str(BIN / "gunicorn"), "fraudcenter.wsgi", "-b", bind, "-w", "1"])

        def up() -> bool:
            try:
                return requests.get(self.url("/healthz"), timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_for(up, 60, "gunicorn")

    def start_worker(self) -> None:
        self.start("worker", [str(BIN / "celery"), "-A", "fraudcenter", "worker", "--pool=solo",
                               "-l", "INFO", "-n", f"w{self.n}@%h", "--without-gossip",
                               "--without-mingle", "--without-heartbeat"])  # fmt: skip

    def start_beat(self) -> None:
        self.start("beat", [str(BIN / "celery"), "-A", "fraudcenter", "beat", "-l", "INFO",
                             f"--schedule={self.tmp / 'beat'}"])  # fmt: skip

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def parts(transactional_db, tmp_path):
    for role in Role:  # a transactional test's flush removed the groups the migration made
        Group.objects.get_or_create(name=role)
    redis = Redis(tmp_path)
    redis.start()
    backend = ChatBackend(SECRET).start()
    stack = Stack(tmp_path, redis, backend)
    stack.start_web()
    yield stack, backend
    stack.stop()
    backend.stop()
    redis.stop()


@pytest.fixture
def chat_cases(make_case, specialist):
    return [
        case_assign(
            case=make_case(channel="chat", external_id=f"chat-{n}"),
            assignee=specialist,
            actor=specialist,
        )  # fmt: skip
        for n in range(3)
    ]


@pytest.fixture
def reply(parts, specialist):
    stack, _backend = parts
    _instance, token = AuthToken.objects.create(user=specialist)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"

    def send(case, text: str) -> tuple[float, dict]:
        """POST a reply as the reply box does; returns the click time and the answer."""
        started = time.time()
        body = {"text": text, "request_id": str(uuid.uuid4())}
        response = session.post(stack.url(f"/api/v1/cases/{case.pk}/replies/"), json=body,
                                timeout=10)  # fmt: skip
        assert response.status_code == 201, response.text
        return started, response.json()

    return send


def _statuses() -> Counter:
    return Counter(Delivery.objects.values_list("status", flat=True))


def _in_order(backend: ChatBackend, cases) -> None:
    """Per case, the backend got the replies in the order they were written, each once."""
    for case in cases:
        sent = list(
            ChatMessage.objects.filter(case=case, author="specialist")
            .order_by("id")
            .values_list("external_id", flat=True)
        )
        got = [r.body["data"]["message_id"] for r in backend.accepted()
               if r.body["data"]["case_id"] == case.pk]  # fmt: skip
        assert got == sent
    ids = [r.webhook_id for r in backend.accepted()]
    assert len(ids) == len(set(ids))


def test_replies_arrive_once_in_order_and_fast(parts, chat_cases, reply):
    stack, backend = parts
    stack.start_worker()
    stack.start_beat()
    time.sleep(2)  # the worker connected: the latency below is the reply's, not the start's
    clicks = {}
    for i in range(10):
        for case in chat_cases:
            started, message = reply(case, f"Ответ {i}: никому не называйте код из SMS.")
            clicks[message["external_id"]] = started
    wait_for(lambda: _statuses() == Counter({D.DELIVERED: 30}), 60, "30 delivered")
    _in_order(backend, chat_cases)
    assert backend.summary()["rejected"] == 0 and backend.summary()["duplicates"] == 0
    latencies = [
        (r.received_at - clicks[r.body["data"]["message_id"]]) * 1000 for r in backend.accepted()
    ]
    print(f"\nclick → chat backend: median {statistics.median(latencies):.0f} ms, "
          f"max {max(latencies):.0f} ms over {len(latencies)} replies")  # fmt: skip


def test_5xx_then_success_and_429_with_retry_after(parts, chat_cases, reply):
    stack, backend = parts
    backend.script(Answer(503), Answer(500), Answer(429, retry_after="1"), Answer(502))
    stack.start_worker()
    stack.start_beat()
    for i in range(5):
        for case in chat_cases:
            reply(case, f"Ответ {i}")
    wait_for(lambda: _statuses() == Counter({D.DELIVERED: 15}), 90, "15 delivered")
    _in_order(backend, chat_cases)
    summary = backend.summary()
    assert summary["requests"] == 15 + 4 and len(summary["accepted"]) == 15
    assert sum(Delivery.objects.values_list("attempts", flat=True)) == 19


def test_a_timeout_is_retried_and_the_backend_keeps_each_id_once(parts, chat_cases, reply):
    stack, backend = parts
    backend.script(*[Answer(200, delay=2.0)] * 3)  # done, answered after our 1 s timeout
    stack.start_worker()
    stack.start_beat()
    for i in range(3):
        for case in chat_cases:
            reply(case, f"Ответ {i}")
    wait_for(lambda: _statuses() == Counter({D.DELIVERED: 9}), 90, "9 delivered")
    _in_order(backend, chat_cases)
    summary = backend.summary()
    assert len(summary["accepted"]) == 9 and summary["duplicates"] == 3


def test_a_4xx_is_final_and_a_supervisors_resend_delivers_it(parts, chat_cases, reply, supervisor):
    stack, backend = parts
    backend.script(Answer(422))
    stack.start_worker()
    stack.start_beat()
    _started, first = reply(chat_cases[0], "Первый")
    wait_for(lambda: _statuses() == Counter({D.FAILED: 1}), 30, "refused")
    _started, second = reply(chat_cases[0], "Второй")  # a refused one does not hold the next
    wait_for(lambda: _statuses() == Counter({D.FAILED: 1, D.DELIVERED: 1}), 30, "the second")
    _instance, token = AuthToken.objects.create(user=supervisor)
    url = stack.url(f"/api/v1/cases/{chat_cases[0].pk}/replies/{first['id']}/resend/")
    response = requests.post(url, headers={"Authorization": f"Token {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    wait_for(lambda: _statuses() == Counter({D.DELIVERED: 2}), 30, "resent")
    assert [r.body["data"]["text"] for r in backend.accepted()] == ["Второй", "Первый"]
    assert backend.summary()["requests"] == 3


@pytest.mark.parametrize("point", ["before_post", "after_post"])
def test_a_worker_killed_mid_delivery_loses_nothing_and_the_backend_keeps_it_once(
    parts, chat_cases, reply, point
):
    stack, backend = parts
    reached = stack.hooks / f"{point}.reached"
    (stack.hooks / f"{point}.hold").touch()
    stack.start_worker()
    stack.start_beat()
    reply(chat_cases[0], "Первый")
    wait_for(reached.exists, 60, f"the worker at {point}")
    stack.kill("worker")  # SIGKILL mid-delivery
    assert _statuses() == Counter({D.SENDING: 1})
    assert len(backend.accepted()) == (1 if point == "after_post" else 0)
    (stack.hooks / f"{point}.hold").unlink()
    for i in range(4):
        reply(chat_cases[0], f"Следом {i}")
    stack.start_worker()
    wait_for(lambda: _statuses() == Counter({D.DELIVERED: 5}), 60, "all delivered")
    _in_order(backend, chat_cases)
    summary = backend.summary()
    assert len(summary["accepted"]) == 5
    assert summary["duplicates"] == (1 if point == "after_post" else 0)
    first = Delivery.objects.order_by("id").first()
    assert [a.result for a in first.log.all()] == ["interrupted", "delivered"]
