"""The scale-out run (`make test-scale`, called by CI after `make test`): the installation of
docs/deploy.md on this machine, under load, with a worker killed mid-send.

What runs: the machine's PostgreSQL (a database of its own, migrated fresh; the same
database again as DATABASE_REPLICA_URL, through a read-only connection) and RabbitMQ (a
vhost of its own, so no other installation's worker takes our tasks); two gunicorn masters
on two ports, each with deploy/gunicorn.conf.py and two sync workers; two Celery workers and
one beat with the command lines of deploy/systemd/*.service; the environment of
deploy/fraudcenter.env.example (PRODUCTION=1), with only the endpoints and the secret
replaced; the SMPP backend talking to the test SMSC (tests/reminders/smsc.py).

The load: SCALE_CASES case creations through the API from SCALE_THREADS threads against
both ports, each with an Idempotency-Key; a share of them sent again on purpose (same key,
same body, the other port), a share cut short by a client timeout and retried like a
client that lost the connection. Every case's category sends an SMS on opening, due at
once; SCALE_BACKLOG more reminders are due from the start (as after a gateway outage).
Mid-run, one worker is stopped right after the SMSC accepted its batch (the
dispatcher's test checkpoint) and killed with SIGKILL.

Then: no error response; one case per idempotency key and per external_id; every
reminder reached the SMSC exactly once; the killed worker's batch is `unknown` (the reaper
on the surviving worker marks it; nothing is resent silently) and everything else `sent`
or `delivered`; the cases opened after the kill had their SMS sent by the surviving worker,
so beat's work went on."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import requests
from django.conf import settings

from tests.reminders.smsc import SmscServer

from .deploy_files import ROOT, env_example, unit_command, unit_environment

pytestmark = [pytest.mark.scale, pytest.mark.postgres, pytest.mark.slow]

BIN = Path(sys.executable).parent
CASES = int(os.environ.get("SCALE_CASES", "400"))
BACKLOG = int(os.environ.get("SCALE_BACKLOG", "1000"))  # reminders due at the start
THREADS = int(os.environ.get("SCALE_THREADS", "8"))
RUN_NAME = os.environ.get("SCALE_RUN_NAME", "fc_scale_run")  # the database and the vhost
HOST = "fraud.example.internal"  # ALLOWED_HOSTS of the example environment
# What the TLS proxy in front of gunicorn sends (PRODUCTION=1 redirects plain HTTP).
PROXY_HEADERS = {"Host": HOST, "X-Forwarded-Proto": "https"}
KILL_AFTER = 0.4  # share of the load done when a worker is killed
TOTAL_SMS = CASES + 1 + BACKLOG  # the backlog's case sends its own SMS on opening


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# --- The parts: database, vhost, processes ----------------------------------------------------


@pytest.fixture
def database() -> str:
    """A fresh database for the run (dropped at the start of the next run, kept for a look)."""
    db = settings.DATABASES["default"]
    base = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{RUN_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{RUN_NAME}"')
    return f"{base}/{RUN_NAME}"


def _rabbitmqctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def broker() -> str:
    """The machine's RabbitMQ, in a vhost of the run's own."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("amqp://"):
        pytest.skip("the scale-out run needs RabbitMQ: set CELERY_BROKER_URL=amqp://...")
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl is needed to give the run a vhost of its own")
    parts = urlsplit(url)
    _rabbitmqctl("delete_vhost", RUN_NAME)
    user = parts.username or "guest"
    for args in (("add_vhost", RUN_NAME), ("set_permissions", "-p", RUN_NAME, user, *[".*"] * 3)):
        res = _rabbitmqctl(*args)
        assert res.returncode == 0, res.stdout + res.stderr
    yield f"amqp://{parts.netloc}/{RUN_NAME}"
    _rabbitmqctl("delete_vhost", RUN_NAME)


class Processes:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def kill(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@dataclass
class Installation:
    processes: Processes
    env: dict[str, str]
    ports: list[int]
    smsc: SmscServer
    database: str
    hooks: dict[str, Path]
    tokens: dict[str, str] = field(default_factory=dict)

    def url(self, port: int, path: str) -> str:
        return f"http://127.0.0.1:{port}{path}"


@pytest.fixture
def installation(database, broker, tmp_path):
    smsc = SmscServer().start()
    var = tmp_path / "var"
    var.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "TEST_DATABASE_NAME", "SMS_BACKEND"}
    }
    env.update(env_example())
    env.update(
        {
            # The endpoints of this machine instead of the example's hosts.
            "DATABASE_URL": database,
            "DATABASE_REPLICA_URL": f"{database}?application_name=fraudcenter-replica",
            "CELERY_BROKER_URL": broker,
            "CACHE_URL": f"redis://127.0.0.1:6379/0?key_prefix={RUN_NAME}",
            "SMS_SMPP_HOST": "127.0.0.1",
            "SMS_SMPP_PORT": str(smsc.port),
            "FRAUDCENTER_VAR_DIR": str(var),
            "SECRET_KEY": secrets.token_urlsafe(50),
            # The run's own pace: beat ticks and the reaper fast, the SMS never held back by
            # quiet hours whatever the hour, and a throttle above this (single) integration's
            # burst — the load is about processes, not about the rate limit.
            "SMS_DISPATCH_INTERVAL": "0.5",
            "SMS_REAPER_INTERVAL": "1",
            "SMS_SENDING_TIMEOUT": "10",
            "SMS_SMPP_TIMEOUT": "5",
            "SMS_QUIET_HOURS_START": "00:00",
            "SMS_QUIET_HOURS_END": "00:00",
            "API_INTEGRATION_THROTTLE_RATE": "100000/min",
            "GUNICORN_WORKERS": "2",
        }
    )
    processes = Processes(tmp_path)
    hostname = socket.gethostname()
    ports = [_free_port(), _free_port()]
    hooks = {}
    try:
        migrate = subprocess.run(
            [str(BIN / "python"), "manage.py", "migrate", "--noinput"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        prepare = subprocess.run(
            [str(BIN / "python"), "-m", "tests.scale.prepare"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert prepare.returncode == 0, prepare.stdout + prepare.stderr
        tokens = json.loads(prepare.stdout.strip().splitlines()[-1])

        for n, port in enumerate(ports, start=1):
            metrics = tmp_path / f"metrics-{n}"  # the unit's RuntimeDirectory, emptied at start
            metrics.mkdir()
            web_env = {**env, **unit_environment("fraudcenter-web.service")}
            assert web_env["PROMETHEUS_MULTIPROC_DIR"] == "/run/fraudcenter/metrics"
            web_env.update(GUNICORN_BIND=f"127.0.0.1:{port}", PROMETHEUS_MULTIPROC_DIR=str(metrics))
            processes.start(
                f"web{n}",
                unit_command("fraudcenter-web.service", bin_dir=BIN, hostname=hostname),
                web_env,
            )
        for n in (1, 2):
            hooks[f"worker{n}"] = tmp_path / f"hooks-{n}"
            hooks[f"worker{n}"].mkdir()
            argv = unit_command(
                "fraudcenter-worker@.service", bin_dir=BIN, hostname=hostname, instance=str(n)
            )
            # Each worker its own checkpoint directory: the test holds only the one it kills.
            processes.start(
                f"worker{n}", argv, {**env, "SMS_TEST_HOOK_DIR": str(hooks[f"worker{n}"])}
            )
        beat = unit_command("fraudcenter-beat.service", bin_dir=BIN, hostname=hostname, var_dir=var)
        processes.start("beat", beat, env)
        receiver = unit_command("fraudcenter-smpp-receiver.service", bin_dir=BIN, hostname=hostname)
        processes.start("receiver", receiver, env)
        push_port = _free_port()
        push = unit_command("fraudcenter-push.service", bin_dir=BIN, hostname=hostname)
        push[push.index("--port") + 1] = str(push_port)
        processes.start("push", push, env)

        def web_ready(port: int) -> bool:
            try:
                r = requests.get(
                    f"http://127.0.0.1:{port}/healthz", headers=PROXY_HEADERS, timeout=2
                )
            except requests.RequestException:
                return False
            return r.status_code == 200

        for port in ports:
            _wait(lambda port=port: web_ready(port), 90, f"gunicorn on {port}")
        for n in (1, 2):
            _wait(lambda n=n: " ready." in processes.log(f"worker{n}"), 90, f"worker {n}")
        _wait(lambda: smsc.receiver_binds >= 1, 90, "the SMPP receiver's bind")
        _check_push_server(push_port, env)
        yield Installation(processes, env, ports, smsc, database, hooks, tokens)
    finally:
        processes.stop()
        smsc.stop()


# --- The load ---------------------------------------------------------------------------------


@dataclass
class LoadResult:
    responses: dict[str, list[tuple[int, int | None, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # key → [(status, case id, replayed)]
    errors: list[str] = field(default_factory=list)
    connection_errors: int = 0
    requests: int = 0
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _open_cases(inst: Installation, result: LoadResult, first: int, count: int) -> None:
    headers = {**PROXY_HEADERS, "Authorization": f"Token {inst.tokens['integration_token']}"}
    local = threading.local()

    def send(port_index: int, key: str, body: dict, read_timeout: float) -> requests.Response:
        """POST until an HTTP answer comes, like a client with retries: the same key and
        the same body every time, switching web process after a connection error."""
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        for attempt in range(6):
            port = inst.ports[(port_index + attempt) % 2]
            with result.lock:
                result.requests += 1
            try:
                return session.post(
                    inst.url(port, "/api/v1/cases/"), json=body, timeout=(5, read_timeout),
                    headers={**headers, "Idempotency-Key": key},
                )  # fmt: skip
            except requests.RequestException:
                with result.lock:
                    result.connection_errors += 1
                read_timeout = 30
                time.sleep(0.1 * (attempt + 1))
        raise AssertionError(f"{key}: no answer after 6 attempts")

    def record(key: str, response: requests.Response) -> None:
        with result.lock:
            if response.status_code not in (200, 201):
                result.errors.append(f"{key}: {response.status_code} {response.text[:200]}")
                case_id = None
            else:
                case_id = response.json()["id"]
            result.responses[key].append(
                (
                    response.status_code,
                    case_id,
                    response.headers.get("Idempotent-Replayed") == "true",
                )
            )

    def one(i: int) -> None:
        key = f"{RUN_NAME}-{i}-{secrets.token_hex(4)}"
        body = {
            "channel": "hotline",
            "phone": f"+7916{2000000 + i:07d}",
            "category": inst.tokens["category"],
            "summary": "Звонили из «службы безопасности банка»",
            "external_id": f"call-{i}",
            "code_disclosed": i % 3 == 0,
        }
        # One in twelve: the client gives up before the answer (the server goes on), then
        # retries — the «connection lost» case.
        cut_short = i % 12 == 5
        record(key, send(i % 2, key, body, 0.01 if cut_short else 30))
        if i % 10 < 3:  # three in ten: sent again on purpose, to the other web process
            record(key, send(i % 2 + 1, key, body, 30))
        with result.lock:
            result.done += 1

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(one, i) for i in range(first, first + count)]:
            future.result()


# --- The run ----------------------------------------------------------------------------------


def _query(database: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(database) as conn:
        return conn.execute(sql, params).fetchall()


def _statuses(database: str) -> Counter:
    return Counter(
        dict(_query(database, "SELECT status, count(*) FROM reminders_reminder GROUP BY status"))
    )


def _check_push_server(port: int, env: dict[str, str]) -> None:
    """The push unit runs with the shared environment: a page's URL signed with the
    installation's SECRET_KEY opens a stream, a forged one is refused."""
    from django.core import signing

    def status(token: str) -> int | None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(f"GET /push/?t={token} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                return int(s.recv(64).split()[1])
        except (OSError, IndexError, ValueError):
            return None

    _wait(lambda: status("forged") == 403, 60, "the push server")
    token = signing.dumps(["pop:1"], key=env["SECRET_KEY"], salt="fraudcenter.push", compress=True)
    assert status(token) == 200


def test_two_web_two_workers_and_beat_under_load_with_a_worker_killed_mid_send(
    installation, capsys
):
    inst = installation
    result = LoadResult()
    before_kill = int(CASES * KILL_AFTER)
    backlog = subprocess.run(
        [str(BIN / "python"), "-m", "tests.scale.prepare", "backlog", str(BACKLOG)],
        cwd=ROOT, env=inst.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert backlog.returncode == 0, backlog.stdout + backlog.stderr
    started = time.monotonic()

    # The load runs in the background while the worker is killed.
    load = threading.Thread(target=_open_cases, args=(inst, result, 0, before_kill * 2))
    load.start()
    _wait(lambda: result.done >= before_kill, 120, "the first part of the load", every=0.05)
    hold = inst.hooks["worker1"] / "after_send.hold"
    hold.touch()  # worker 1 stops right after the SMSC accepted its next batch...
    _wait((inst.hooks["worker1"] / "after_send.reached").exists, 60, "worker 1 mid-send", 0.02)
    inst.processes.kill("worker1")  # ...and dies there, its batch still "sending"
    killed_at = time.monotonic()
    hold.unlink()
    held = _query(inst.database, "SELECT id, text FROM reminders_reminder WHERE status = 'sending'")
    load.join()
    # The rest of the load lands on one worker only.
    _open_cases(inst, result, before_kill * 2, CASES - before_kill * 2)
    load_seconds = time.monotonic() - started

    def settled() -> bool:
        statuses = _statuses(inst.database)
        return sum(statuses.values()) == TOTAL_SMS and not (
            statuses.keys() & {"scheduled", "sending"}
        )

    _wait(settled, 120, "every reminder sent or settled by the reaper")
    settled_seconds = time.monotonic() - started

    # No error response: 201 for each key, replays marked as such, the same case each time.
    assert result.errors == []
    assert len(result.responses) == CASES
    for key, answers in result.responses.items():
        assert {status for status, _id, _replayed in answers} == {201}, (key, answers)
        assert len({case_id for _status, case_id, _replayed in answers}) == 1, (key, answers)
        assert [replayed for *_rest, replayed in answers[1:]] == [True] * (len(answers) - 1)
    assert sum(len(a) for a in result.responses.values()) == CASES + sum(
        1 for i in range(CASES) if i % 10 < 3
    )
    # The clients did lose connections (a request may still beat the 10 ms client timeout).
    assert result.connection_errors >= sum(1 for i in range(CASES) if i % 12 == 5) // 2

    # No duplicate case: one per key, one per external_id.
    assert _query(inst.database, "SELECT count(*) FROM cases_case") == [(CASES + 1,)]
    assert (
        _query(
            inst.database,
            "SELECT external_id FROM cases_case GROUP BY created_by_id, external_id "
            "HAVING count(*) > 1",
        )
        == []
    )
    assert _query(
        inst.database, "SELECT count(*), count(DISTINCT key) FROM cases_idempotencykey"
    ) == [(CASES, CASES)]
    case_ids = {answers[0][1] for answers in result.responses.values()}
    assert len(case_ids) == CASES

    # Every reminder reached the SMSC exactly once; the killed worker's batch is "unknown"
    # (sent, but nobody could record it), never resent; all the others sent or delivered.
    reminders = _query(
        inst.database, "SELECT id, text, status, created_at, sent_at FROM reminders_reminder"
    )
    assert len(reminders) == TOTAL_SMS  # one SMS on opening per case, and the backlog
    at_smsc = Counter(inst.smsc.accepted_texts())
    assert at_smsc.most_common(1)[0][1] == 1, at_smsc.most_common(3)  # nothing sent twice
    assert {text for _id, text, *_rest in reminders} == set(at_smsc)  # nothing lost
    statuses = Counter(status for _id, _text, status, *_rest in reminders)
    # "sending" at the kill: worker 1's batch, and maybe one that worker 2 had in hand.
    unknown = {pk for pk, _text, status, *_rest in reminders if status == "unknown"}
    assert unknown and unknown <= {pk for pk, _text in held}
    assert statuses["sent"] + statuses["delivered"] + statuses["unknown"] == TOTAL_SMS

    # Beat's work went on after the kill: the SMS of the cases opened since then were sent,
    # and only worker 2 was alive to send them.
    assert inst.processes.procs["worker2"].poll() is None
    assert inst.processes.procs["beat"].poll() is None
    last_case_sms = _query(
        inst.database,
        "SELECT count(*) FROM reminders_reminder WHERE status IN ('sent', 'delivered') "
        "AND case_id IN (SELECT id FROM cases_case WHERE external_id = ANY(%s))",
        ([f"call-{i}" for i in range(before_kill * 2, CASES)],),
    )
    assert last_case_sms == [(CASES - before_kill * 2,)]

    # The reports read through the replica connection of the web processes.
    manager = {**PROXY_HEADERS, "Authorization": f"Token {inst.tokens['manager_token']}"}
    for port in inst.ports:
        summary = requests.get(
            inst.url(port, "/api/v1/reports/summary/"), params={"period": "day"},
            headers=manager, timeout=30,
        )  # fmt: skip
        assert summary.status_code == 200, summary.text
        assert summary.json()["summary"]["total"] == CASES + 1  # and the backlog's case
    replica_connections = _query(
        inst.database,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
        "AND application_name = 'fraudcenter-replica'",
        (RUN_NAME,),
    )
    assert replica_connections[0][0] >= 1

    # Monitoring: ready, and each gunicorn's workers' counters add up to the cases opened.
    opened = 0
    for port in inst.ports:
        assert requests.get(inst.url(port, "/readyz"), headers=PROXY_HEADERS, timeout=10).ok
        metrics = requests.get(
            inst.url(port, "/metrics"), timeout=10,
            headers={**PROXY_HEADERS, "Authorization": f"Bearer {inst.env['METRICS_TOKEN']}"},
        )  # fmt: skip
        assert metrics.status_code == 200
        for line in metrics.text.splitlines():
            if line.startswith('fraudcenter_cases_opened_total{channel="hotline"}'):
                opened += int(float(line.split()[-1]))
    assert opened == CASES

    # Logs: no subscriber's number in any process's output (each case came with one); the
    # workers log JSON lines like the web (LOG_JSON=1), the reaper's warning among them.
    for name in inst.processes.procs:
        assert not re.search(r"916\D{0,2}200\D{0,2}\d{4}", inst.processes.log(name)), name
    reaped = [
        json.loads(line) for line in inst.processes.log("worker2").splitlines() if "Reaped" in line
    ]
    assert reaped and reaped[0]["level"] == "warning" and "task_id" in reaped[0]

    sent = [r for r in reminders if r[4] is not None and r[2] != "unknown"]
    backlog_sent = [r for r in sent if r[1].startswith("Напоминание")]
    lags = [(sent_at - created).total_seconds() for _i, text, _s, created, sent_at in sent
            if text.startswith("Обращение")]  # fmt: skip
    backlog_seconds = (
        max(r[4] for r in backlog_sent) - min(r[3] for r in backlog_sent)
    ).total_seconds()
    with capsys.disabled():
        print(
            f"\nscale-out run: {CASES} cases from {THREADS} threads on 2 gunicorn × 2 workers, "
            f"2 Celery workers (one SIGKILLed {killed_at - started:.1f} s in) + beat\n"
            f"  load: {load_seconds:.1f} s, {CASES / load_seconds:.0f} cases/s, "
            f"{result.requests} requests ({result.requests / load_seconds:.0f}/s) incl. "
            f"{result.requests - CASES} retries/replays, {result.connection_errors} cut short\n"
            f"  SMS: {len(at_smsc)} at the SMSC, each once; the backlog's {len(backlog_sent)} "
            f"sent {backlog_seconds:.1f} s after it was due "
            f"({len(backlog_sent) / backlog_seconds:.0f} SMS/s, the load starting meanwhile); "
            f"a case's SMS sent "
            f"{statistics.median(lags):.2f} s after opening (median), max {max(lags):.2f} s\n"
            f"  {statuses['delivered']} delivered, {statuses['sent']} sent, "
            f"{statuses['unknown']} unknown (the killed worker's batch, reaped after "
            f"SMS_SENDING_TIMEOUT); all settled {settled_seconds:.1f} s after the start"
        )
