"""SMS dispatch throughput and the claim query's plan.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fc_sms .venv/bin/python bench/sms_dispatch.py

1. Throughput: N due reminders (COPY) go out through real Celery workers (solo pool, 1 then 2
   processes) + beat, a private redis-server as broker, the SMPP backend and the test SMSC on
   127.0.0.1 (tests/reminders/smsc.py, in this process). Rate = N / (last sent - first claimed).
2. The claim query at 1,000,000 reminder rows (COPY; 1 % scheduled, 0.1 % due):
   EXPLAIN (ANALYZE, BUFFERS) of the exact SQL the dispatcher runs.

It TRUNCATEs the reminders table of the database it is given: use your own database.
Quiet hours are switched off for the run (the figure is the pipeline's, at any hour).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudcenter.settings")
os.environ["SMS_QUIET_HOURS_START"] = os.environ["SMS_QUIET_HOURS_END"] = "00:00"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from cases.models import Case  # noqa: E402
from cases.services import case_open  # noqa: E402
from playbooks.models import Category  # noqa: E402
from reminders.models import Reminder  # noqa: E402
from reminders.services import reminders_claim_due  # noqa: E402
from tests.reminders.smsc import SmscServer  # noqa: E402

BIN = Path(sys.executable).parent
FIELDS = [
    "case_id", "subscriber_id", "text", "parts", "send_after", "shifted_by_quiet_hours",
    "status", "attempts", "last_error", "gateway_message_id", "dedupe_key", "created_at",
    "updated_at",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_case() -> Case:
    case = Case.objects.filter(summary="sms bench").first()
    if case:
        return case
    category, _ = Category.objects.get_or_create(slug="sms-bench", defaults={"name": "SMS bench"})
    return case_open(
        actor=None, channel="other", category=category, phone="+79169990000", summary="sms bench"
    )


def copy_reminders(case: Case, rows) -> None:
    table = Reminder._meta.db_table
    columns = ", ".join(Reminder._meta.get_field(f).column for f in FIELDS)
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def reset_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Reminder._meta.db_table} RESTART IDENTITY")
        cursor.execute("DELETE FROM cases_caseevent WHERE kind LIKE 'sms_%%'")


def due_rows(case: Case, n: int, tag: str):
    now = timezone.now()
    past = now - timedelta(minutes=1)
    text = "Обращение {}: никому не называйте коды из SMS, смените пароль."
    for i in range(n):
        yield (
            case.pk, case.subscriber_id, text.format(i), 1, past, False, "scheduled", 0, "", "",
            f"bench:{tag}:{i}", now, now,
        )  # fmt: skip


def throughput(case: Case, n: int, workers: int, tmp: Path) -> float:
    reset_table()
    copy_reminders(case, due_rows(case, n, f"w{workers}"))
    redis_port = _free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    smsc = SmscServer().start()
    env = {
        **os.environ,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "SMS_BACKEND": "smpp",
        "SMS_SMPP_PORT": str(smsc.port),
        "SMS_DISPATCH_INTERVAL": "0.2",
        "SMS_DISPATCH_BUDGET": "30",
        "FRAUDCENTER_VAR_DIR": str(tmp / "var"),
        "LOG_LEVEL": "WARNING",
    }
    celery = str(BIN / "celery")
    procs = [
        subprocess.Popen(
            [
                celery,
                "-A",
                "fraudcenter",
                "worker",
                "--pool=solo",
                "-l",
                "WARNING",
                "-n",
                f"bench{i}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for i in range(workers)
    ]
    time.sleep(3)  # workers up before the first tick
    procs.append(
        subprocess.Popen(
            [celery, "-A", "fraudcenter", "beat", "-l", "WARNING", f"--schedule={tmp / 'beat'}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            left = Reminder.objects.filter(status__in=["scheduled", "sending"]).count()
            if left == 0:
                break
            time.sleep(0.2)
        first = Reminder.objects.order_by("claimed_at").values_list("claimed_at", flat=True)[0]
        last = Reminder.objects.order_by("-sent_at").values_list("sent_at", flat=True)[0]
        seconds = (last - first).total_seconds()
        accepted = smsc.accepted_texts()
        counts = dict(
            Reminder.objects.values_list("status").annotate(n=django.db.models.Count("id"))
        )
        dupes = len(accepted) - len(set(accepted))
        rate = n / seconds
        print(
            f"  {workers} worker(s): {n} SMS in {seconds:.2f} s = {rate:.0f} SMS/s; "
            f"SMSC accepted {len(accepted)}, duplicates {dupes}, statuses {counts}"
        )
        return rate
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(20)
        smsc.stop()
        redis.terminate()
        redis.wait(10)


def explain_at_a_million(case: Case, total: int) -> None:
    reset_table()
    now = timezone.now()
    scheduled = total // 100
    due = total // 1000

    def rows():
        for i in range(total):
            if i < due:
                status, send_after = "scheduled", now - timedelta(minutes=i % 60)
            elif i < scheduled:
                status, send_after = "scheduled", now + timedelta(minutes=i % 10000)
            else:
                status, send_after = "delivered", now - timedelta(minutes=i % 500000)
            yield (
                case.pk, case.subscriber_id, "Текст", 1, send_after, False, status, 1, "",
                f"M{i}" if status == "delivered" else "", f"bulk:{i}", now, now,
            )  # fmt: skip

    t = time.monotonic()
    copy_reminders(case, rows())
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Reminder._meta.db_table}")
    print(f"  COPY of {total:,} rows: {time.monotonic() - t:.1f} s")
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        t = time.monotonic()
        claimed = reminders_claim_due()
        took = time.monotonic() - t
        transaction.set_rollback(True)
    sql = next(q["sql"] for q in ctx.captured_queries if "FOR UPDATE" in q["sql"])
    print(
        f"  one claim of {len(claimed)} rows (SELECT … SKIP LOCKED + UPDATE): {took * 1000:.1f} ms"
    )
    print(f"  claim SQL: {sql}")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        for (line,) in cursor.fetchall():
            print("   ", line)
        transaction.set_rollback(True)
    reset_table()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=6000, help="reminders per throughput run")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the EXPLAIN")
    parser.add_argument("--skip-explain", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to your own PostgreSQL database.")
    call_command("migrate", verbosity=0)
    case = bench_case()
    tmp = ROOT / "var" / "bench-sms"
    tmp.mkdir(parents=True, exist_ok=True)
    print(
        f"SMS dispatch throughput (SMPP, test SMSC on loopback, batch {settings.SMS_BATCH_SIZE}):"
    )
    if args.n:
        for workers in (1, 2):
            throughput(case, args.n, workers, tmp)
    if not args.skip_explain:
        print(f"Claim query at {args.rows:,} reminder rows:")
        explain_at_a_million(case, args.rows)


if __name__ == "__main__":
    main()
