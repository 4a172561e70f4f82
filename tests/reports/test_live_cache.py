"""A report is shared for REPORTS_LIVE_CACHE_SECONDS (reports/selectors.report_build): the
managers who open the same report within that minute cost no query, and the page says as
of when its figures were read."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from reports import selectors
from reports.filters import ReportFilter, today_in_moscow

from .test_queries import PAGE_QUERIES

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def live_cache(settings):
    settings.REPORTS_LIVE_CACHE_SECONDS = 60


def _today() -> ReportFilter:
    today = today_in_moscow()
    return ReportFilter(date_from=today, date_to=today)


def test_a_report_with_today_is_read_once_a_minute(make_case, django_assert_num_queries):
    make_case()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert selectors.report_build(_today()).summary["total"] == 1
        make_case()
        with django_assert_num_queries(0):  # the same filter within the minute: the cache
            again = selectors.report_build(_today())
        assert again.summary["total"] == 1 and again.as_of == timezone.now()
        other = ReportFilter(date_from=_today().date_from, date_to=_today().date_to, channel="chat")
        assert selectors.report_build(other).summary["total"] == 0  # another filter: its own
        clock.shift(timedelta(seconds=61))
        fresh = selectors.report_build(_today())
    assert fresh.summary["total"] == 2 and fresh.as_of > again.as_of


def test_zero_reads_the_report_on_every_request(make_case, settings):
    settings.REPORTS_LIVE_CACHE_SECONDS = 0
    make_case()
    assert selectors.report_build(_today()).summary["total"] == 1
    make_case()
    assert selectors.report_build(_today()).summary["total"] == 2


def test_the_second_manager_in_the_minute_costs_only_the_page_queries(
    client, manager, make_case, django_assert_num_queries
):
    make_case()
    client.force_login(manager)
    with time_machine.travel(timezone.now(), tick=False):
        with django_assert_num_queries(PAGE_QUERIES):
            first = client.get(reverse("reports:page"))
        # session, the user with its roles, the filter form's categories, the user's
        # exports: no report
        with django_assert_num_queries(4):
            second = client.get(reverse("reports:page"))
        shown = timezone.localtime().strftime("%H:%M")
    assert first.status_code == second.status_code == 200
    assert f"Данные на {shown}." in second.content.decode()
