"""Writes for reports: export records, the XLSX build, the cleanup of expired files."""

from __future__ import annotations

import logging
import os
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import xlsxwriter
from celery import current_app
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from cases.models import Case
from fraudcenter.db_router import reports_db_alias

from .access import export_may_unmask
from .exports import export_rows
from .filters import ReportFilter
from .models import ExportJob

logger = logging.getLogger(__name__)
# reports.tasks.export_build_xlsx_task, by its registered name.
EXPORT_TASK = "reports.tasks.export_build_xlsx"
PROGRESS_EVERY = 5000


def export_dir() -> Path:
    path = Path(settings.EXPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_record_start(
    *,
    owner: User,
    f: ReportFilter,
    kind: str,
    fmt: str,
    columns: list[str] | None = None,
) -> ExportJob:
    """Record an export as it starts (CSV: streamed now; XLSX: queued for a worker)."""
    return ExportJob.objects.create(
        owner=owner,
        kind=kind,
        format=fmt,
        filters=f.to_json(),
        columns=columns or [],
        masked=not export_may_unmask(owner),
        state=ExportJob.State.RUNNING if fmt == ExportJob.Format.CSV else ExportJob.State.PENDING,
    )


def export_record_finish(*, job_id: int, row_count: int, complete: bool) -> None:
    ExportJob.objects.filter(pk=job_id).update(
        state=ExportJob.State.DONE if complete else ExportJob.State.FAILED,
        error="" if complete else "Выгрузка прервана: клиент отключился.",
        row_count=row_count,
        progress=100 if complete else 0,
        finished_at=timezone.now(),
    )


@transaction.atomic
def export_xlsx_request(*, owner: User, f: ReportFilter, columns: list[str]) -> ExportJob:
    """Queue an XLSX export; the row is the source of truth, the broker carries its id.

    The task is sent by name: tasks import services, never the other way round."""
    job = export_record_start(
        owner=owner, f=f, kind="cases", fmt=ExportJob.Format.XLSX, columns=columns
    )
    transaction.on_commit(lambda: current_app.send_task(EXPORT_TASK, args=[job.pk]))
    return job


def export_build_xlsx(*, job_id: int) -> ExportJob | None:
    """Build the XLSX file in constant memory, reporting progress on the row.

    Claimed with a conditional UPDATE: a second delivery of the same id finds it taken
    and does nothing."""
    claimed = ExportJob.objects.filter(pk=job_id, state=ExportJob.State.PENDING).update(
        state=ExportJob.State.RUNNING
    )
    if not claimed:
        return None
    job = ExportJob.objects.get(pk=job_id)
    f = ReportFilter.from_json(job.filters)
    # The rows come from the reports' database (the replica when there is one); the job's
    # own row is written to the primary.
    total = Case.objects.using(reports_db_alias()).filter(f.case_q()).count()
    ExportJob.objects.filter(pk=job.pk).update(total_rows=total)
    name = f"export-{job.pk}-{secrets.token_hex(8)}.xlsx"
    final = export_dir() / name
    partial = final.with_suffix(".part")
    try:
        headers, rows = export_rows(f, job.columns, masked=job.masked)
        workbook = xlsxwriter.Workbook(
            str(partial),
            # strings_to_formulas off: a text cell is never a formula («=HYPERLINK(…)»).
            {
                "constant_memory": True,
                "remove_timezone": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
            },
        )
        sheet = workbook.add_worksheet("Обращения")
        bold = workbook.add_format({"bold": True})
        date_fmt = workbook.add_format({"num_format": "dd.mm.yyyy hh:mm"})
        money_fmt = workbook.add_format({"num_format": "# ##0.00"})
        sheet.write_row(0, 0, headers, bold)
        sheet.set_column(0, len(headers) - 1, 18)
        n = 0
        for n, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, datetime):
                    sheet.write_datetime(n, col, value.replace(tzinfo=None), date_fmt)
                elif isinstance(value, Decimal):
                    sheet.write_number(n, col, float(value), money_fmt)
                elif isinstance(value, str):
                    sheet.write_string(n, col, value)
                else:
                    sheet.write(n, col, value)
            if n % PROGRESS_EVERY == 0:
                ExportJob.objects.filter(pk=job.pk).update(
                    row_count=n, progress=min(99, 100 * n // max(total, 1))
                )
        workbook.close()
        os.replace(partial, final)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        ExportJob.objects.filter(pk=job.pk).update(
            state=ExportJob.State.FAILED,
            error=type(exc).__name__,
            finished_at=timezone.now(),
        )
        logger.exception("export %s failed", job.pk)
        raise
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        state=ExportJob.State.DONE,
        progress=100,
        row_count=n,
        file_path=name,
        finished_at=now,
        expires_at=now + timedelta(hours=settings.EXPORT_TTL_HOURS),
    )
    job.refresh_from_db()
    return job


def export_file_path(job: ExportJob) -> Path | None:
    if job.state != ExportJob.State.DONE or not job.file_path:
        return None
    path = export_dir() / Path(job.file_path).name
    return path if path.is_file() else None


def exports_delete_expired(*, now=None) -> int:
    """Delete the files of finished exports past expires_at; the record stays."""
    now = now or timezone.now()
    deleted = 0
    for job in ExportJob.objects.filter(state=ExportJob.State.DONE, expires_at__lte=now):
        if job.file_path:
            (export_dir() / Path(job.file_path).name).unlink(missing_ok=True)
        # Conditional: a job handled twice (two beats by mistake) is counted once.
        deleted += ExportJob.objects.filter(pk=job.pk, state=ExportJob.State.DONE).update(
            state=ExportJob.State.EXPIRED, file_path=""
        )
    return deleted
