"""The reports page in a real Chromium: charts render, the XLSX progress reaches the download
link; a screenshot is kept in docs/screenshots/reports.png."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from tests.browser.csp import watch_csp

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "reports.png"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def browser_page():
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # live_server + sync playwright
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="ru-RU")
        csp_refusals = watch_csp(page)
        yield page
        browser.close()
        assert not csp_refusals, "\n".join(csp_refusals)
        # The test's own queries ran while playwright's event loop was current, so their
        # connection lives in that context: close it here, or the test database cannot be
        # dropped at the end of the run ("accessed by other users").
        from django.db import connections

        connections.close_all()


def _some_reminders() -> None:
    from django.utils import timezone

    from cases.models import Case
    from reminders.models import Reminder

    statuses = ["delivered"] * 6 + ["sent", "failed", "skipped_opt_out", "scheduled"]
    for i, case in enumerate(Case.objects.filter(external_id__startswith="demo-")[:10]):
        Reminder.objects.create(
            case=case, subscriber_id=case.subscriber_id, text="Проверьте вход в Госуслуги.",
            send_after=timezone.now(), status=statuses[i], shifted_by_quiet_hours=i % 4 == 0,
            dedupe_key=f"browser-{i}",
        )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_the_reports_page_renders_charts_and_delivers_an_xlsx(
    live_server, browser_page, settings, tmp_path
):
    from cases import demo
    from reports import services
    from reports.filters import today_in_moscow
    from reports.models import ExportJob

    settings.EXPORT_DIR = tmp_path
    demo.seed_users()
    demo.seed_playbooks()
    demo.seed_bulk_cases(3000, log=lambda *_: None)
    demo.seed_demo_cases(12)  # through the services: playbook steps recorded
    _some_reminders()
    today = today_in_moscow()
    query = f"?period=custom&date_from={today - timedelta(days=29)}&date_to={today}"

    page = browser_page
    page.goto(live_server.url + "/login/")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", demo.DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.goto(live_server.url + "/reports/" + query)
    assert page.locator("h1").inner_text() == "Отчёты"
    assert page.locator("svg.chart").count() == 2
    assert page.locator("svg.chart >> nth=0").locator("rect").count() > 20
    assert page.get_by_text("Обращений в день").count() == 1  # axis titles in Russian
    assert page.get_by_text("Дата (московское время)").count() == 1
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True, caret="initial")  # see _shot

    # XLSX: the button queues a job; htmx polls until the download link appears. No worker
    # runs here, so the test builds the job the way the worker would, between two polls.
    page.get_by_role("button", name="Сформировать XLSX").click()
    page.locator("#jobs progress").wait_for()
    job = ExportJob.objects.get()
    services.export_build_xlsx(job_id=job.pk)
    link = page.locator("#jobs a.download")
    link.wait_for(timeout=10_000)
    assert "Скачать XLSX" in link.inner_text()
