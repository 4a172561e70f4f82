"""A center's working hour as locust users: specialists taking calls and chats one after
another, supervisors on the live queue, managers on the reports, and the machines (PBX
events, the chat backend's lines and new chats) that each contact brings. Run by
`bench/day.py`; the knob is the number of simulated specialists (`--users`; supervisors and
managers are added in the model's proportion through the class weights).

THE MODEL (per busy specialist, written here so that the figures can be argued with):
- Contacts. The center took about 15,000 calls and 7,000 chats in its first month with 300
  people (the seed article, ../shared/seeds/): ≈ 73 contacts per person-month, ≈ 0.5 per
  person-hour. A specialist here is always busy: one contact after another, CONTACT_MINUTES
  (12) each including the wrap-up, 5 an hour, about ten times the center's average; 15/22 of
  them calls, 7/22 chats (the article's split).
- A call: the PBX's newCall, answer and hangup events (Zammad's CTI format, as the PBX
  pushes them); the screen pop finds the answered call on its next poll; the intake form
  with the caller's card; the case opened from the form; the case page; four playbook step
  outcomes (our playbooks have 4–6 steps); a note; an SMS scheduled in one contact of three;
  the case page again; «Мои обращения»; the case closed with its outcome; a filtered list in
  one contact of three.
- A chat: the chat backend opens the case (API) and looks the subscriber up; the specialist
  takes it from the queue and works it like a call, with six of the subscriber's lines
  coming in (API) and five replies; the open case page polls the conversation every
  CHAT_POLL_SECONDS, as its template does.
- Every staff page polls the screen pop every SCREEN_POP_POLL_SECONDS (base.html).
- Supervisors: one per SPECIALISTS_PER_SUPERVISOR (15) specialists, on the queue page all
  hour: its rows, the waves block and the callbacks block every QUEUE_REFRESH_SECONDS, as
  its template polls them; the page itself reloaded every five minutes.
- Managers: one per SPECIALISTS_PER_MANAGER (100), the reports page (with the waves and
  the identifiers' figures it loads) every five minutes.
Each user starts at a random point of its contact (the case it would have opened by then is
made before the measurement: `setup` requests, left out of the figures), so that a short
run sees the hour's mix rather than everybody's first minute.
"""

from __future__ import annotations

import collections
import html
import itertools
import json
import os
import random
import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import gevent
import gevent.socket
from locust import FastHttpUser, between, events, task

DAY = json.loads(open(os.environ["DAY_JSON"]).read())  # noqa: SIM115  # read once
CONTACT_MINUTES = float(os.environ.get("DAY_CONTACT_MINUTES", "12"))
CHAT_SHARE = 7 / 22
POP_SECONDS = float(os.environ.get("SCREEN_POP_POLL_SECONDS", "1"))
CHAT_POLL_SECONDS = float(os.environ.get("CHAT_POLL_SECONDS", "3"))
QUEUE_REFRESH_SECONDS = float(os.environ.get("QUEUE_REFRESH_SECONDS", "10"))
QUEUE_STAFF_REFRESH_SECONDS = float(os.environ.get("QUEUE_STAFF_REFRESH_SECONDS", "30"))
PUSH_FALLBACK_SECONDS = float(os.environ.get("PUSH_FALLBACK_SECONDS", "120"))
SPECIALISTS_PER_SUPERVISOR = 15
SPECIALISTS_PER_MANAGER = 100
CSRF = "daybenchcsrftoken0123456789abcde"  # any 32 characters: cookie and header agree
SUMMARY = "Звонок от «службы безопасности банка», просили код из SMS"
DESCRIPTION = "Абонент сообщил, что звонили с незнакомого номера и просили продиктовать код."
VERSION = re.compile(r'name="version" value="(\d+)"')
STEP = re.compile(r'action="/cases/\d+/steps/(\d+)/"')
CASE_URL = re.compile(r"/cases/(\d+)/")
PUSH_URL = re.compile(r'data-push-url="([^"]+)"')

# Server-Timing per request kind: the web worker's CPU ms, SQL ms and statements.
TIMINGS: dict[str, list[tuple[float, float, int]]] = {}
_TIMING = re.compile(r"cpu;dur=([\d.]+), db;dur=([\d.]+);desc=\"(\d+)\"")
_accounts = {
    role: itertools.cycle(DAY[role]) for role in ("specialists", "supervisors", "managers")
}
_run = uuid.uuid4().hex[:8]
POOL = json.loads(open(os.environ["DAY_POOL"]).read()) if os.environ.get("DAY_POOL") else {}  # noqa: SIM115
_pool_next: collections.defaultdict[tuple[str, bool], Any] = collections.defaultdict(
    itertools.count
)
_serial = itertools.count()


@events.request.add_listener
def _server_timing(name: str, response: Any, exception: Any, **kwargs: Any) -> None:
    if response is None or exception or name.startswith("setup"):
        return
    match = _TIMING.search(response.headers.get("Server-Timing") or "")
    if match:
        cpu, db, sql = match.groups()
        TIMINGS.setdefault(name, []).append((float(cpu), float(db), int(sql)))


@events.spawning_complete.add_listener
def _warm_up_then_measure(user_count: int, **kwargs: Any) -> None:
    """Everybody has started (and made the case their contact is at): let the backlog of that
    start drain for DAY_WARMUP_SECONDS, then count from zero. An overloaded box never drains,
    and its figures show it."""

    def reset() -> None:
        _ENVIRONMENT[0].stats.reset_all()
        TIMINGS.clear()

    gevent.spawn_later(float(os.environ.get("DAY_WARMUP_SECONDS", "30")), reset)


_ENVIRONMENT: list[Any] = []


@events.init.add_listener
def _keep_environment(environment: Any, **kwargs: Any) -> None:
    _ENVIRONMENT.append(environment)


@events.quitting.add_listener
def _write_timings(environment: Any, **kwargs: Any) -> None:
    path = os.environ.get("DAY_TIMINGS")
    if path:
        with open(path, "w") as f:
            json.dump(TIMINGS, f)


def _phone(rng: random.Random) -> str:
    if rng.random() < 2 / 3:  # a known subscriber two times in three (repeat victims)
        return f"+7958{1 + rng.randrange(DAY['known_subscribers']):07d}"
    return f"+7959{rng.randrange(10_000_000):07d}"


class Staff(FastHttpUser):
    abstract = True
    role = "specialists"
    first_page, first_page_name = "/cases/mine/", "page: my cases"

    def on_start(self) -> None:
        self.rng = random.Random()
        self.account = next(_accounts[self.role])
        self.headers = {
            "Cookie": f"sessionid={self.account['session']}; csrftoken={CSRF}",
            "X-CSRFToken": CSRF,
            "Referer": self.host + "/",
        }
        self.pollers: list[Any] = []
        # The first page of the shift; with push on it names this person's push URL.
        page = self.get(self.first_page, self.first_page_name)
        push_url = PUSH_URL.search(page.text or "")
        if push_url:
            # As app.js does: one EventSource, the pop fetched when told, a slow safety poll.
            self.pollers.append(
                gevent.spawn(
                    self._listen,
                    html.unescape(push_url.group(1)),
                    {"pop": ("/calls/pop/", "push: screen pop")},
                )
            )
            self.pollers.append(
                gevent.spawn(self._poll, "/calls/pop/", "poll: screen pop", PUSH_FALLBACK_SECONDS)
            )
        else:
            self.pollers.append(
                gevent.spawn(self._poll, "/calls/pop/", "poll: screen pop", POP_SECONDS)
            )

    def _listen(self, url: str, handlers: dict[str, tuple[str, str]]) -> None:
        """An EventSource: reads the push server's stream, fetches what it names."""
        parts = urlsplit(url)
        while True:
            try:
                sock = gevent.socket.create_connection((parts.hostname, parts.port))
                sock.sendall(
                    f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: x\r\n"
                    "Accept: text/event-stream\r\n\r\n".encode()
                )
                stream = sock.makefile("rb")
                for raw in stream:
                    line = raw.decode().strip()
                    if line.startswith("event: ") and line[7:] in handlers:
                        path, name = handlers[line[7:]]
                        self.get(path, name, hx=True)
            except OSError:
                pass
            gevent.sleep(3)  # the EventSource's retry

    def on_stop(self) -> None:
        gevent.killall(self.pollers)

    def _poll(self, path: str, name: str, every: float) -> None:
        gevent.sleep(self.rng.uniform(0, every))
        while True:
            self.get(path, name, hx=True)
            gevent.sleep(every)

    def get(self, path: str, name: str, hx: bool = False) -> Any:
        headers = {**self.headers, **({"HX-Request": "true"} if hx else {})}
        with self.client.get(path, name=name, headers=headers, catch_response=True) as r:
            if r.status_code not in (200, 204):
                r.failure(f"HTTP {r.status_code}")
            return r

    def post(
        self, path: str, name: str, data: dict[str, Any], hx: bool = False, expected: str = ""
    ) -> Any:
        """`expected`: a refusal a real person meets in the model's course (the page says
        why and they go on), counted as served, not as a failure."""
        headers = {**self.headers, **({"HX-Request": "true"} if hx else {})}
        with self.client.post(
            path, name=name, data=data, headers=headers, allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code == 422 and expected and expected in (r.text or ""):
                r.success()
            elif r.status_code not in (200, 201, 302):
                errors = re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', r.text or "", re.S)
                r.failure(f"HTTP {r.status_code}: {errors or (r.text or '')[:200]}")
            return r


class Specialist(Staff):
    weight = SPECIALISTS_PER_SUPERVISOR * SPECIALISTS_PER_MANAGER
    wait_time = between(0, 0)

    @task
    def contact(self) -> None:
        chat = self.rng.random() < CHAT_SHARE
        script = self.chat_script() if chat else self.call_script()
        start = self.rng.randrange(len(script)) if not getattr(self, "started", False) else 0
        self.started = True
        self.chat = chat
        self.case_id: int | None = None
        self.case_push: str | None = None  # the case page's push URL ("" when push is off)
        self.version = 0
        self.steps: list[int] = []
        self.phone = _phone(self.rng)
        self.call_id = f"day-{_run}-{next(_serial)}"
        if start > script.index(self.open_case) + 1:
            self.setup_case(chat)
        gap = CONTACT_MINUTES * 60 / len(script)
        gevent.sleep(self.rng.uniform(0, gap))
        watching: list[Any] = []
        for n, action in enumerate(script):
            if n < start:
                continue
            if chat and not watching and self.case_id and self.case_push is not None:
                watching = self.watch_chat()
            action()
            gevent.sleep(self.rng.expovariate(1 / gap))
        gevent.killall(watching)

    def watch_chat(self) -> list[Any]:
        """The open case page's conversation: pushed, or polled every CHAT_POLL_SECONDS."""
        log = f"/cases/{self.case_id}/chat/"
        if self.case_push:
            return [
                gevent.spawn(self._listen, self.case_push, {"case": (log, "push: chat log")}),
                gevent.spawn(self._poll, log, "poll: chat log", PUSH_FALLBACK_SECONDS),
            ]
        return [gevent.spawn(self._poll, log, "poll: chat log", CHAT_POLL_SECONDS)]

    def call_script(self) -> list[Any]:
        return [
            lambda: self.pbx("newCall"),
            lambda: self.pbx("answer"),
            self.intake_form,
            self.open_case,
            self.case_page,
            self.step,
            self.step,
            self.note,
            lambda: self.pbx("hangup"),
            self.step,
            self.step,
            self.maybe_sms,
            self.case_page,
            self.my_cases,
            self.close,
            self.maybe_list,
        ]

    def chat_script(self) -> list[Any]:
        return [
            self.open_case,
            self.take,
            self.chat_in,
            self.reply,
            self.step,
            self.chat_in,
            self.reply,
            self.step,
            self.chat_in,
            self.note,
            self.reply,
            self.chat_in,
            self.step,
            self.reply,
            self.chat_in,
            self.step,
            self.chat_in,
            self.reply,
            self.maybe_sms,
            self.case_page,
            self.my_cases,
            self.close,
            self.maybe_list,
        ]

    # --- the machines
    def api(self, method: str, path: str, name: str, body: dict[str, Any], **headers: str) -> Any:
        all_headers = {"Authorization": f"Token {DAY['api_token']}", **headers}
        with self.client.request(
            method, path, name=name, json=body, headers=all_headers, catch_response=True
        ) as r:
            if r.status_code not in (200, 201):
                r.failure(f"HTTP {r.status_code}: {r.text[:200] if r.text else ''}")
            return r

    def pbx(self, event: str) -> None:
        data = {
            "event": event,
            "from": self.phone.replace("+7", "8"),
            "to": "611",
            "direction": "in",
            "callId": self.call_id,
            "answeringNumber": self.account["extension"],
        }
        if event == "hangup":
            data["cause"] = "normalClearing"
        with self.client.post(
            f"/api/v1/cti/{DAY['cti_token']}",
            name="pbx: call event",
            data=data,
            catch_response=True,
        ) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")

    def chat_backend_open(self, name: str) -> None:
        r = self.api(
            "POST",
            "/api/v1/cases/",
            name,
            {
                "channel": "chat",
                "phone": self.phone,
                "category": self.rng.choice(DAY["categories"]),
                "summary": "Чат: «Звонили мошенники»",
                "description": DESCRIPTION,
                "external_id": self.call_id,
            },
            **{"Idempotency-Key": self.call_id},
        )
        if r.status_code in (200, 201):
            self.case_id = r.json()["id"]
        self.api(
            "GET",
            f"/api/v1/subscribers/lookup/?phone={self.phone.replace('+', '%2B')}",
            "setup: lookup" if name.startswith("setup") else "api: screen-pop lookup",
            None,
        )

    def chat_in(self) -> None:
        if self.case_id:
            self.api(
                "POST",
                f"/api/v1/cases/{self.case_id}/messages/",
                "chat: line in (API)",
                {
                    "external_id": f"{self.call_id}-{next(_serial)}",
                    "author": "subscriber",
                    "text": "Мне звонили из банка и просили код",
                    "sent_at": _now(),
                },
            )

    # --- the specialist
    def intake_form(self) -> None:
        self.get(
            f"/cases/new/?phone={self.phone.replace('+', '%2B')}&call={self.call_id}",
            "page: intake form",
        )
        phone = self.phone.replace("+", "%2B")
        self.get(f"/cases/subscriber-card/?phone={phone}", "page: subscriber card", hx=True)

    def open_case(self, name: str = "") -> None:
        if self.case_id:
            return
        if self.chat:
            self.chat_backend_open(name or "api: open case (chat backend)")
            return
        r = self.post(
            "/cases/new/",
            name or "page: open case (form)",
            {
                "phone": self.phone,
                "call_id": self.call_id,
                "time_zone": "",
                "category": self.rng.choice(DAY["category_ids"]),
                "channel": "hotline",
                "summary": SUMMARY,
                "description": DESCRIPTION,
                "code_disclosed": "on",
            },
        )
        match = CASE_URL.search(r.headers.get("Location") or "")
        if match:
            self.case_id = int(match.group(1))

    def setup_case(self, chat: bool) -> None:
        """Joined midway: a case of this account from the pool (bench/day_prepare.py --pool),
        in progress, version 1, its steps not yet recorded."""
        cases = POOL["cases"][self.account["username"]]["chat" if chat else "call"]
        case_id, category_id, push_url = cases[next(_pool_next[(self.account["username"], chat)])]
        self.case_id, self.version, self.case_push = case_id, 1, push_url
        self.steps = list(POOL["steps"].get(str(category_id), []))

    def case_page(self, name: str = "page: case") -> None:
        if not self.case_id:
            return
        r = self.get(f"/cases/{self.case_id}/", name)
        text = r.text or ""
        self._version(text)
        if self.case_push is None and r.status_code == 200:
            found = PUSH_URL.search(text)
            self.case_push = html.unescape(found.group(1)) if found else ""
        self.steps = [int(s) for s in dict.fromkeys(STEP.findall(text))]

    def _version(self, text: str) -> None:
        found = VERSION.findall(text)
        if found:
            self.version = max(int(v) for v in found)

    def write(
        self, path: str, name: str, data: dict[str, Any], hx: bool, expected: str = ""
    ) -> None:
        if not self.case_id:
            return
        r = self.post(
            f"/cases/{self.case_id}/{path}", name, {**data, "version": self.version}, hx, expected
        )
        if r.status_code == 302:  # a plain form: the browser follows to the case page
            self.case_page()
        else:
            self._version(r.text or "")

    def step(self) -> None:
        if self.steps:
            step = self.steps.pop(0)
            self.write(
                f"steps/{step}/",
                "page: step outcome",
                {"result": "done", "note": "Рассказал, как проверить"},
                hx=True,
            )

    def note(self) -> None:
        # In place (htmx), as the page sends it: the note box and the timeline come back.
        self.write("notes/", "page: note", {"text": "Перезвонить после 18:00"}, hx=True)

    def maybe_sms(self) -> None:
        if self.rng.random() < 1 / 3:
            self.write(
                "sms/",
                "page: SMS schedule",
                {
                    "text": "Не сообщайте никому коды из SMS. Ваш T2",
                    "delay": "60",
                    "request_id": str(uuid.uuid4()),
                },
                hx=True,
                # Some subscribers answered «СТОП» (the seed has them, as life does).
                expected="отказался от SMS",
            )

    def take(self, name: str = "page: take case") -> None:
        if not self.case_id:
            return
        if not self.version:
            self.version = 1
        self.write("take/", name, {}, hx=False)

    def reply(self) -> None:
        self.write(
            "chat/reply/",
            "page: chat reply",
            {"text": "Не называйте код никому", "request_id": str(uuid.uuid4())},
            hx=True,
        )

    def close(self) -> None:
        while self.steps:  # a contact joined midway still has its steps to record first
            self.step()
        self.write(
            "status/",
            "page: close case",
            {"status": "closed", "outcome": "no_harm", "comment": ""},
            hx=False,
        )

    def my_cases(self) -> None:
        self.get("/cases/mine/", "page: my cases")

    def maybe_list(self) -> None:
        if self.rng.random() < 1 / 3:
            category = self.rng.choice(DAY["categories"])
            self.get(f"/cases/?status=in_progress&category={category}", "page: case list (filter)")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Supervisor(Staff):
    weight = SPECIALISTS_PER_MANAGER
    role = "supervisors"
    wait_time = between(0, 0)

    first_page, first_page_name = "/queue/", "supervisor: queue page"

    @task
    def watch(self) -> None:
        """The queue page's own polls: the board, waves and callbacks every
        QUEUE_REFRESH_SECONDS, the staff's load every QUEUE_STAFF_REFRESH_SECONDS; the page
        reloaded every five minutes."""
        until = time.monotonic() + 300
        gevent.sleep(self.rng.uniform(0, QUEUE_REFRESH_SECONDS))
        staff_due = time.monotonic() + self.rng.uniform(0, QUEUE_STAFF_REFRESH_SECONDS)
        while time.monotonic() < until:
            self.get("/queue/?part=rows", "poll: queue rows", hx=True)
            self.get("/intel/waves/", "poll: waves", hx=True)
            self.get("/calls/queue/", "poll: callbacks", hx=True)
            if time.monotonic() >= staff_due:
                self.get("/queue/?part=staff", "poll: staff load", hx=True)
                staff_due += QUEUE_STAFF_REFRESH_SECONDS
            gevent.sleep(QUEUE_REFRESH_SECONDS)
        self.get("/queue/", "supervisor: queue page")


class Manager(Staff):
    weight = SPECIALISTS_PER_SUPERVISOR
    role = "managers"
    first_page, first_page_name = "/reports/", "manager: reports page"
    wait_time = between(240, 360)

    def on_start(self) -> None:
        super().on_start()
        gevent.sleep(self.rng.uniform(0, 300))

    @task
    def reports(self) -> None:
        self.get("/reports/", "manager: reports page")
        self.get("/intel/waves/", "manager: waves", hx=True)
        self.get("/intel/figures/", "manager: identifiers' figures", hx=True)


__all__ = ["Manager", "Specialist", "Supervisor"]
