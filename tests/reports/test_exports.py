"""CSV streaming, XLSX building, masking, the export record, cleanup of expired files."""

from __future__ import annotations

from datetime import timedelta

import openpyxl
import pytest
from django.contrib.auth.models import Permission, User
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from reports import services
from reports.exports import mask_name, mask_phone
from reports.models import ExportJob

MARCH = {"period": "custom", "date_from": "2026-03-01", "date_to": "2026-03-31"}
COLUMNS = ["number", "created_at", "phone", "subscriber_name", "summary", "money_amount"]


def _csv(client, **params) -> tuple[StreamingHttpResponse, str]:
    response = client.get(reverse("reports:export_cases_csv"), {**MARCH, **params})
    assert isinstance(response, StreamingHttpResponse)
    return response, b"".join(response.streaming_content).decode("utf-8")


def test_phone_numbers_and_names_are_masked_the_agreed_way():
    assert mask_phone("+79161234567") == "+7 916 ***-**-67"
    assert mask_name("Иван Петров") == "И*** П***"
    assert mask_phone("") == ""


def test_the_csv_is_streamed_utf8_with_bom_semicolons_and_masked(client, manager, dataset):
    client.force_login(manager)
    response, text = _csv(client, columns=COLUMNS)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "cases_20260301-20260331.csv" in response["Content-Disposition"]
    assert text.startswith("\ufeffНомер;Создано;Телефон абонента;Имя абонента;Кратко;Сумма")
    lines = text.lstrip("\ufeff").split("\n")
    assert len(lines) == 1 + 5 + 1  # header, five March cases, the final newline
    c2 = dataset.cases["c2"]
    # The phone cell starts with "+": neutralised like any formula-looking text (OWASP).
    assert f"{c2.number};02.03.2026 23:30;'+7 916 ***-**-02;И*** П***;" in text
    assert ";15000,50" in text
    assert "+79161110002" not in text and "Иван" not in text
    assert "123-45-67" not in text  # a phone number typed into the summary is masked too


def test_the_export_is_recorded_with_who_filters_and_row_count(client, manager, dataset):
    client.force_login(manager)
    _csv(client, columns=["number"], channel="hotline")
    job = ExportJob.objects.get()
    assert (job.owner, job.format, job.kind, job.state) == (manager, "csv", "cases", "done")
    assert job.filters == {
        "date_from": "2026-03-01", "date_to": "2026-03-31", "channel": "hotline", "category": None
    }  # fmt: skip
    assert (job.row_count, job.masked, job.columns) == (3, True, ["number"])


def test_a_manager_with_the_unmasked_permission_gets_real_numbers(client, manager, dataset):
    manager.user_permissions.add(Permission.objects.get(codename="export_unmasked"))
    client.force_login(User.objects.get(pk=manager.pk))
    _response, text = _csv(client, columns=["phone", "subscriber_name"])
    assert "+79161110002;Иван Петров" in text
    assert ExportJob.objects.get().masked is False


def test_an_export_without_columns_is_refused_in_russian(client, manager, db):
    client.force_login(manager)
    response = client.get(reverse("reports:export_cases_csv"), MARCH)
    assert response.status_code == 400
    assert "Выберите хотя бы один столбец." in response.content.decode()
    assert not ExportJob.objects.exists()


def test_a_report_table_exports_as_csv_and_is_recorded(client, supervisor, dataset):
    client.force_login(supervisor)
    url = reverse("reports:export_table_csv", kwargs={"table": "by_category"})
    response = client.get(url, MARCH)
    assert response.content.decode() == (
        "\ufeffКатегория;Обращений\nВзлом Госуслуг;3\nЗвонок «из банка»;2\n"
    )
    job = ExportJob.objects.get()
    assert (job.kind, job.row_count, job.state) == ("by_category", 2, "done")


def test_the_xlsx_job_builds_a_file_that_opens_with_the_rows(
    manager, dataset, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.EXPORT_DIR = tmp_path
    from reports.filters import ReportFilterForm

    form = ReportFilterForm(MARCH)
    assert form.is_valid()
    with django_capture_on_commit_callbacks() as callbacks:
        job = services.export_xlsx_request(owner=manager, f=form.report_filter(), columns=COLUMNS)
    assert job.state == "pending" and len(callbacks) == 1  # the task is sent after commit
    done = services.export_build_xlsx(job_id=job.pk)
    assert done.state == "done" and done.row_count == 5 and done.progress == 100
    assert done.expires_at > timezone.now()
    sheet = openpyxl.load_workbook(tmp_path / done.file_path, read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Номер", "Создано", "Телефон абонента", "Имя абонента", "Кратко",
                       "Сумма потерь, ₽")  # fmt: skip
    assert len(rows) == 6
    c1 = dataset.cases["c1"]
    assert rows[1][0] == c1.number
    assert rows[1][1].strftime("%d.%m.%Y %H:%M") == "02.03.2026 10:00"  # Moscow time
    assert rows[1][2] == "+7 916 ***-**-01"
    c2_row = next(r for r in rows if r[0] == dataset.cases["c2"].number)
    assert c2_row[5] == 15000.5
    # A second delivery of the same id does nothing.
    assert services.export_build_xlsx(job_id=job.pk) is None


def test_only_the_owner_downloads_a_finished_xlsx(client, manager, dataset, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path
    client.force_login(manager)
    response = client.post(
        reverse("reports:export_xlsx"), {**MARCH, "columns": ["number"]}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    job = ExportJob.objects.get()
    assert 'hx-trigger="load delay:1s"' in response.content.decode()  # it polls
    services.export_build_xlsx(job_id=job.pk)
    status = client.get(reverse("reports:job", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert "hx-trigger" not in status.content.decode()  # finished: polling stops
    assert reverse("reports:download", args=[job.pk]) in status.content.decode()
    download = client.get(reverse("reports:download", args=[job.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:2] == b"PK"  # a zip: XLSX


def test_expired_files_are_deleted_by_the_cleanup_task(manager, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path
    old = tmp_path / "old.xlsx"
    old.write_bytes(b"x")
    fresh = tmp_path / "fresh.xlsx"
    fresh.write_bytes(b"x")
    now = timezone.now()
    expired = ExportJob.objects.create(
        owner=manager, format="xlsx", state="done", file_path="old.xlsx",
        expires_at=now - timedelta(minutes=1),
    )  # fmt: skip
    kept = ExportJob.objects.create(
        owner=manager, format="xlsx", state="done", file_path="fresh.xlsx",
        expires_at=now + timedelta(hours=1),
    )  # fmt: skip
    from reports.tasks import exports_delete_expired_task

    assert exports_delete_expired_task() == 1
    assert not old.exists() and fresh.exists()
    expired.refresh_from_db()
    kept.refresh_from_db()
    assert (expired.state, expired.file_path) == ("expired", "")
    assert kept.state == "done"


def test_the_cleanup_runs_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["reports-delete-expired-exports"]
    assert entry["task"] == "reports.tasks.exports_delete_expired"


@pytest.mark.parametrize("columns", [["bogus"], []])
def test_the_xlsx_request_refuses_bad_columns(client, manager, columns, db):
    client.force_login(manager)
    response = client.post(reverse("reports:export_xlsx"), {**MARCH, "columns": columns})
    assert response.status_code == 400
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_name_the_specialist_not_their_login(client, manager, dataset, specialist, fmt):
    """Was «specialist2»: the person as the staff pages name them, the login only without a
    name (the CSV path on PostgreSQL builds the cell in SQL, the XLSX one in Python)."""
    User.objects.filter(pk=specialist.pk).update(first_name="Мария", last_name="Соколова")
    client.force_login(manager)
    params = {**MARCH, "columns": ["number", "assignee"]}
    if fmt == "csv":
        _response, text = _csv(client, columns=["number", "assignee"])
    else:
        from reports.exports import export_rows
        from reports.filters import ReportFilter

        f = ReportFilter.from_json(
            {"date_from": "2026-03-01", "date_to": "2026-03-31", "channel": "", "category": None}
        )
        _headers, rows = export_rows(f, params["columns"], masked=True)
        text = "\n".join(";".join(str(v) for v in row) for row in rows)
    cells = {line.split(";")[-1] for line in text.strip().splitlines()[1:]}
    assert "Мария Соколова" in cells and specialist.username not in cells
