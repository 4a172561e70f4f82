"""The XLSX export through a real Celery worker process, on PostgreSQL and a real broker
(Redis, this app's own database number), read back with openpyxl."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from django.db import connection
from kombu import Connection

from reports.models import ExportJob
from reports.services import export_record_start
from reports.tasks import export_build_xlsx_task

BROKER = os.environ.get("REPORTS_TEST_BROKER_URL", "redis://127.0.0.1:6379/5")
CELERY = Path(sys.executable).with_name("celery")


def _broker_up() -> bool:
    try:
        with Connection(BROKER, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_builds_the_xlsx_and_reports_progress(dataset, manager, tmp_path):
    if not _broker_up():
        pytest.skip(f"broker {BROKER} is not reachable")
    from .conftest import MARCH

    queue = f"reports-test-{os.getpid()}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": BROKER,
        "FRAUDCENTER_VAR_DIR": str(tmp_path),
    }
    worker = subprocess.Popen(
        [str(CELERY), "-A", "fraudcenter", "worker", "--pool=solo", "-Q", queue,
         "-l", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        job = export_record_start(
            owner=manager, f=MARCH, kind="cases", fmt="xlsx", columns=["number", "phone"]
        )
        with Connection(BROKER) as conn:
            export_build_xlsx_task.apply_async(args=[job.pk], connection=conn, queue=queue)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.is_finished:
                break
            time.sleep(0.5)
        assert job.state == ExportJob.State.DONE, job.error
        assert job.row_count == 5 and job.total_rows == 5
        path = tmp_path / "exports" / job.file_path
        rows = list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))
        assert rows[0] == ("Номер", "Телефон абонента")
        assert {r[1] for r in rows[1:]} == {
            "+7 916 ***-**-01", "+7 916 ***-**-02", "+7 916 ***-**-03", "+7 916 ***-**-04"
        }  # fmt: skip
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        print(output[-3000:])
