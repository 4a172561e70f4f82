"""The reports page and API run the same queries for one case or many."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from reports import selectors
from reports.filters import ReportFilter, today_in_moscow
from reports.rollup import rollup_rebuild

# session, the user with its roles and model permissions (one query: cases.roles), the
# category list of the filter form, the user's last XLSX exports,
# and the report's six queries: speeds (percentiles, open overdue), the live days (which
# days the daily rollup cannot answer), the figure rows (rollup rows + live days: by day,
# by category, summary, specialists), the top phones and senders (one query), steps, SMS.
# Calls: totals (with the median wait on PostgreSQL), per day, per hour, the callbacks; on
# SQLite the median wait is one more query (computed in Python).
CALLS_QUERIES = 4 if connection.vendor == "postgresql" else 5
PAGE_QUERIES = 2 + 1 + 1 + 6 + CALLS_QUERIES


@pytest.mark.parametrize("n", [1, 12])
def test_the_reports_page_runs_the_same_queries_for_any_number_of_cases(
    client, manager, make_case, n, django_assert_num_queries
):
    for _ in range(n):
        make_case()
    client.force_login(manager)
    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(reverse("reports:page"))
    assert response.status_code == 200


@pytest.mark.parametrize("rolled_up", [False, True])
@pytest.mark.parametrize("n", [1, 12])
def test_a_report_is_six_queries_whatever_the_data(
    make_case, n, rolled_up, django_assert_num_queries
):
    for i in range(n):
        make_case(channel="chat" if i % 2 else "hotline")
    if rolled_up:
        rollup_rebuild()
    today = today_in_moscow()
    with django_assert_num_queries(6 + CALLS_QUERIES):
        report = selectors.report_build(ReportFilter(date_from=today, date_to=today))
    assert report.summary["total"] == n
