"""Personal data retention: how fast the anonymisation job goes, and its claim query's plan.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<own db> .venv/bin/python bench/retention.py \
        [-n 20000] [--batch 1000]

Writes to that database: seeds N bulk cases once (seed_demo's bulk loader), then before each
run marks every case closed long ago and not anonymised, gives each a note and three audit
entries (like a create and two updates), and times cases_anonymise_expired()."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudcenter.settings")

import django  # noqa: E402

django.setup()

from auditlog.models import LogEntry  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models.functions import Now  # noqa: E402

from cases import retention  # noqa: E402
from cases.demo import seed_bulk_cases, seed_playbooks, seed_users  # noqa: E402
from cases.models import Case, CaseEvent, Subscriber  # noqa: E402

FIELDS = ["summary", "description", "status", "priority", "assignee", "subscriber", "channel"]


def prepare(n: int) -> None:
    call_command("migrate", verbosity=0)
    have = Case.objects.count()
    if have < n:
        seed_users()
        seed_playbooks()
        seed_bulk_cases(n - have, log=lambda *a: None)
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE cases_case SET status = 'closed', outcome = 'no_harm', anonymised_at = NULL,"
            " closed_at = created_at - interval '2000 days',"
            " summary = 'Звонил Иван Петров с +7 916 000-00-00'"
        )
        cur.execute("UPDATE cases_subscriber SET anonymised_at = NULL, name = 'Иван Петров'")
        cur.execute(
            "UPDATE cases_caseevent SET text = 'Перезвонил Иван Петров' WHERE kind = 'created'"
        )
    LogEntry.objects.all().delete()
    ct = ContentType.objects.get_for_model(Case)
    changes = {f: ["Иван Петров", "+79160000000"] for f in FIELDS}
    ids = list(Case.objects.values_list("id", flat=True))
    LogEntry.objects.bulk_create(
        (
            LogEntry(content_type=ct, object_pk=str(pk), object_id=pk, object_repr="26-1",
                     action=action, changes=changes, changes_text="", timestamp=Now())
            for pk in ids for action in (0, 1, 1)
        ),
        batch_size=5000,
    )  # fmt: skip
    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def explain_claim() -> str:
    qs = (
        retention.cases_expired(cutoff=retention.retention_cutoff())
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)[: settings.PD_ANONYMISE_BATCH]
    )
    with transaction.atomic(), connection.cursor() as cur:
        sql, params = qs.query.sql_with_params()
        cur.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)
        return "\n".join(r[0] for r in cur.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20000, help="cases")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("PostgreSQL only: set DATABASE_URL to your own database")
    t0 = time.perf_counter()
    prepare(args.n)
    cases = Case.objects.count()
    print(f"prepared {cases} cases, {Subscriber.objects.count()} subscribers, "
          f"{CaseEvent.objects.count()} events, {LogEntry.objects.count()} audit entries "
          f"in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    settings.PD_ANONYMISE_BATCH = args.batch
    print(explain_claim())
    t0 = time.perf_counter()
    result = retention.cases_anonymise_expired(batch_size=args.batch)
    took = time.perf_counter() - t0
    assert result.cases == cases, result
    per_batch = took / result.batches * 1000
    print(f"anonymised {result.cases} cases, {result.subscribers} subscribers in "
          f"{result.batches} batches of {args.batch}: {took:.1f} s, "
          f"{result.cases / took:.0f} cases/s, {per_batch:.0f} ms a batch")  # fmt: skip


if __name__ == "__main__":
    main()
