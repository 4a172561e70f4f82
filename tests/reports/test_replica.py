"""The optional read replica (DATABASE_REPLICA_URL): reports and exports read there, nothing
else does, nothing is written there, and without it everything stays on the primary.

No replica server is needed: as Django's TEST MIRROR does, the `replica` alias points at the
test database through a connection of its own (read-only, like a hot standby). The tests are
transactional so that this second connection sees the rows the first one committed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import environ
import psycopg
import pytest
from django.contrib.auth.models import Group
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.utils import InternalError
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import Case
from cases.roles import Role
from cases.services import case_set_status
from fraudcenter.db_router import REPLICA, replica_database, reports_db_alias
from reports import rollup, selectors, services
from reports.models import CaseDayRollup, CaseDurationRollup, ExportJob, IdentifierDayRollup
from reports.rollup import rollup_refresh
from tests.reports.test_queries import CALLS_QUERIES

from .conftest import MARCH
from .test_rollup import live_report, reported

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
MARCH_QUERY = {"period": "custom", "date_from": "2026-03-01", "date_to": "2026-03-31"}


def _url(db: dict) -> str:
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def replica(request, django_db_setup):
    """Configure the `replica` alias the way settings.py does for DATABASE_REPLICA_URL,
    mirroring the test database, for this test only."""
    primary = connections[DEFAULT_DB_ALIAS].settings_dict
    replica = replica_database(environ.Env.db_url_config(_url(primary)), primary)
    # As the handler fills in defaults for the aliases in settings.DATABASES.
    connections.settings[REPLICA] = connections.configure_settings(
        {DEFAULT_DB_ALIAS: dict(primary), REPLICA: replica}
    )[REPLICA]
    connections[REPLICA].creation.set_as_test_mirror(primary)
    # The alias exists only from now on: open the test's database access here, with it.
    request.node.add_marker(
        pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA])
    )
    request.getfixturevalue("transactional_db")
    for role in Role:  # a transactional test's flush removed the groups the migration made
        Group.objects.get_or_create(name=role)
    yield connections[REPLICA]
    connections[REPLICA].close()
    del connections[REPLICA]
    del connections.settings[REPLICA]


class Queries:
    """The queries each alias ran inside the block."""

    def __init__(self, *aliases: str) -> None:
        self.contexts = {alias: CaptureQueriesContext(connections[alias]) for alias in aliases}

    def __enter__(self) -> Queries:
        for context in self.contexts.values():
            context.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        for context in self.contexts.values():
            context.__exit__(*exc)

    def sql(self, alias: str) -> list[str]:
        return [q["sql"] for q in self.contexts[alias].captured_queries]


def test_without_a_replica_reports_read_the_primary(transactional_db):
    assert REPLICA not in connections.settings
    assert reports_db_alias() == DEFAULT_DB_ALIAS


def test_the_whole_report_is_read_from_the_replica_with_the_same_figures(replica, dataset):
    replica_settings = connections.settings.pop(REPLICA)
    assert reports_db_alias() == DEFAULT_DB_ALIAS
    on_primary = selectors.report_build(MARCH)
    connections.settings[REPLICA] = replica_settings
    assert reports_db_alias() == REPLICA
    with Queries(DEFAULT_DB_ALIAS, REPLICA) as queries:
        on_replica = selectors.report_build(MARCH)
    assert queries.sql(DEFAULT_DB_ALIAS) == []
    # the same queries as on the primary: six, and the calls section's
    assert len(queries.sql(REPLICA)) == 6 + CALLS_QUERIES
    assert on_replica == on_primary
    assert on_replica.summary["total"] == 5


def test_the_rolled_up_report_and_its_cache_key_are_read_from_the_replica(
    replica, dataset, settings
):
    settings.REPORTS_ROLLUP_OVERLAP_SECONDS = 0  # the fresh cases are not live after it
    rollup.rollup_rebuild()  # on the primary (test_the_rollup_refresh_writes_on_the_primary_only)
    with Queries(DEFAULT_DB_ALIAS, REPLICA) as queries:
        built = selectors.report_build(MARCH)
        cached = selectors.report_build(MARCH)
    assert queries.sql(DEFAULT_DB_ALIAS) == []
    # Built: live days + stamp, speeds, figure rows, tops, steps, SMS; then the cache hit:
    # live days + stamp, open overdue, steps, SMS.
    assert len(queries.sql(REPLICA)) == 6 + 4 + 2 * CALLS_QUERIES
    replica_sql = " ".join(queries.sql(REPLICA))
    for model in (CaseDayRollup, CaseDurationRollup, IdentifierDayRollup):
        assert model._meta.db_table in replica_sql
    assert cached == built
    assert built.summary["total"] == 5


def test_a_lagging_replica_never_caches_its_old_figures_under_a_newer_key(
    replica, dataset, settings, specialist2
):
    """The cache key (live days, stamp) is read on the replica with the figures: a key from
    the primary would store the replica's old figures as the current report."""
    settings.REPORTS_ROLLUP_OVERLAP_SECONDS = 0
    rollup.rollup_rebuild()
    before = reported(MARCH)
    # The replica lags: its connection keeps a snapshot from before the change below.
    with transaction.atomic(using=REPLICA):
        with replica.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT 1")
        case_set_status(
            case=dataset.cases["c3"], status="resolved", outcome="duplicate", actor=specialist2
        )
        rollup_refresh()  # the primary's rollups and stamp move on
        assert reported(MARCH) == before  # what the replica has, consistently
    after = reported(MARCH)  # the replica caught up
    assert after != before
    assert after == live_report(MARCH)


def test_the_csv_export_copies_from_the_replica_and_records_on_the_primary(
    replica, client, manager, dataset, monkeypatch
):
    # COPY goes straight to psycopg, past Django's query log: note whose connection ran it.
    copied_on: list[list[str]] = []
    real_copy = psycopg.Cursor.copy

    def copy(cursor, statement, *args, **kwargs):
        copied_on.append(
            [
                a
                for a in (DEFAULT_DB_ALIAS, REPLICA)
                if connections[a].connection is cursor.connection
            ]
        )
        return real_copy(cursor, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", copy)
    client.force_login(manager)
    with Queries(DEFAULT_DB_ALIAS, REPLICA) as queries:
        response = client.get(
            reverse("reports:export_cases_csv"), {**MARCH_QUERY, "columns": ["number"]}
        )
        body = b"".join(response.streaming_content).decode()
    assert body.count("\n") == 1 + 5
    assert copied_on == [[REPLICA]]
    # The export record is written on the primary (the replica would refuse the write).
    assert any(sql.startswith('INSERT INTO "reports_exportjob"') for sql in queries.sql("default"))
    assert ExportJob.objects.get().row_count == 5


def test_the_report_api_and_the_page_read_their_figures_from_the_replica(
    replica, client, manager, dataset
):
    client.force_login(manager)
    with Queries(DEFAULT_DB_ALIAS, REPLICA) as queries:
        assert client.get("/api/v1/reports/", MARCH_QUERY).json()["summary"]["total"] == 5
    assert queries.sql(REPLICA)
    assert not any("cases_case" in sql for sql in queries.sql(DEFAULT_DB_ALIAS))
    with Queries(DEFAULT_DB_ALIAS, REPLICA) as queries:
        assert client.get(reverse("reports:page"), MARCH_QUERY).status_code == 200
    assert len(queries.sql(REPLICA)) == 6 + CALLS_QUERIES


def test_the_xlsx_build_reads_rows_from_the_replica_and_writes_the_job_on_the_primary(
    replica, manager, dataset, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path
    job = services.export_record_start(
        owner=manager, f=MARCH, kind="cases", fmt=ExportJob.Format.XLSX, columns=["number"]
    )
    with Queries(DEFAULT_DB_ALIAS, REPLICA) as queries:
        done = services.export_build_xlsx(job_id=job.pk)
    assert done.state == "done" and done.row_count == 5
    assert not any("cases_case" in sql for sql in queries.sql(DEFAULT_DB_ALIAS))
    assert any("cases_case" in sql for sql in queries.sql(REPLICA))
    # Reads only (the rows come through a server-side cursor: DECLARE … CURSOR FOR SELECT).
    assert not [sql for sql in queries.sql(REPLICA) if sql.startswith(("INSERT", "UPDATE"))]


def test_the_rollup_refresh_writes_on_the_primary_only(replica, dataset):
    with Queries(DEFAULT_DB_ALIAS, REPLICA) as queries:
        assert rollup_refresh() > 0
    assert queries.sql(REPLICA) == []
    assert any(sql.startswith("INSERT INTO") for sql in queries.sql(DEFAULT_DB_ALIAS))


def test_case_pages_and_services_never_touch_the_replica(replica, client, specialist, make_case):
    case = make_case()
    client.force_login(specialist)
    with Queries(REPLICA) as queries:
        assert client.get(reverse("cases:detail", args=[case.pk])).status_code == 200
        assert client.get(reverse("cases:list")).status_code == 200
        make_case()
    assert queries.sql(REPLICA) == []


def test_nothing_is_written_through_the_replica(replica, make_case):
    case = make_case()
    read = Case.objects.using(REPLICA).get(pk=case.pk)
    read.summary = "Исправлено"
    with Queries(DEFAULT_DB_ALIAS, REPLICA) as queries:
        read.save(update_fields=["summary"])  # the router sends it to the primary
    assert queries.sql(REPLICA) == [] and queries.sql(DEFAULT_DB_ALIAS)
    assert Case.objects.get(pk=case.pk).summary == "Исправлено"
    # Sent there explicitly, a write fails: every transaction on the replica is read-only.
    with pytest.raises(InternalError, match="read-only transaction"):
        Case.objects.using(REPLICA).filter(pk=case.pk).update(summary="нельзя")


def _settings_in_a_subprocess(**env: str) -> subprocess.CompletedProcess:
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps({k: {'NAME': v['NAME'], 'TEST': v.get('TEST'), "
        "'OPTIONS': v.get('OPTIONS')} for k, v in settings.DATABASES.items()}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "fraudcenter.settings", **env},
    )  # fmt: skip


def test_database_replica_url_adds_a_read_only_alias_mirrored_in_tests():
    import json

    res = _settings_in_a_subprocess(
        DATABASE_URL="postgres://fraud@db:5432/fraudcenter",
        DATABASE_REPLICA_URL="postgres://fraud@standby:5432/fraudcenter",
    )
    assert res.returncode == 0, res.stderr
    databases = json.loads(res.stdout)
    assert set(databases) == {"default", "replica"}
    assert databases["replica"]["TEST"]["MIRROR"] == "default"
    assert "default_transaction_read_only=on" in databases["replica"]["OPTIONS"]["options"]
    # The primary's server settings apply there too: the reports run there (JIT off).
    assert "-c jit=off" in databases["default"]["OPTIONS"]["options"]
    assert "-c jit=off" in databases["replica"]["OPTIONS"]["options"]


def test_a_replica_beside_sqlite_is_refused():
    res = _settings_in_a_subprocess(
        DATABASE_URL="sqlite:////tmp/fc.sqlite3",
        DATABASE_REPLICA_URL="postgres://fraud@standby:5432/fraudcenter",
    )
    assert res.returncode != 0 and "DATABASE_REPLICA_URL needs PostgreSQL" in res.stderr


def test_postgresql_connections_prepare_statements_and_run_each_query_on_one_core():
    import json

    res = _settings_in_a_subprocess(
        DATABASE_URL="postgres://fraud@db:5432/fraudcenter",
        POSTGRES_PREPARED="1",  # the defaults, whatever this shell says
        POSTGRES_PARALLEL="0",
        POSTGRES_JIT="0",
    )
    assert res.returncode == 0, res.stderr
    options = json.loads(res.stdout)["default"]["OPTIONS"]
    assert options["server_side_binding"] is True and options["prepare_threshold"] == 5
    assert "-c max_parallel_workers_per_gather=0" in options["options"]
    # Each of them can be given back to the server (or to a pooler in transaction mode).
    res = _settings_in_a_subprocess(
        DATABASE_URL="postgres://fraud@db:5432/fraudcenter",
        POSTGRES_PREPARED="0",
        POSTGRES_PARALLEL="1",
        POSTGRES_JIT="1",
    )
    assert res.returncode == 0, res.stderr
    options = json.loads(res.stdout)["default"]["OPTIONS"]
    assert "server_side_binding" not in options and "prepare_threshold" not in options
    assert options.get("options", "") == ""


@pytest.mark.postgres
def test_the_server_applies_them(db):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == "0"
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
    prepared = os.environ.get("POSTGRES_PREPARED", "1") != "0"
    assert connection.connection.prepare_threshold == (5 if prepared else None)
