"""Every figure against the answer computed by hand from tests/reports/conftest.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from reports import selectors
from reports.filters import ReportFilter

from .conftest import MARCH


def _by_day(rows):
    return {r["day"]: (r["hotline"], r["chat"], r["other"]) for r in rows if r["total"]}


def test_contacts_per_day_are_grouped_by_moscow_day_and_channel(dataset):
    rows = selectors.contacts_by_day(MARCH)
    assert len(rows) == 31  # every day of the month, zeros included
    # c3 at 00:30 MSK on 03.03 is still 02.03 in UTC: it must count for 03.03.
    assert _by_day(rows) == {
        date(2026, 3, 2): (1, 1, 0),
        date(2026, 3, 3): (1, 0, 0),
        date(2026, 3, 5): (0, 0, 1),
        date(2026, 3, 10): (1, 0, 0),
    }


def test_contacts_by_category_are_counted_most_first(dataset):
    rows = selectors.contacts_by_category(MARCH)
    assert [(r["name"], r["n"]) for r in rows] == [("Взлом Госуслуг", 3), ("Звонок «из банка»", 2)]


def test_outcomes_money_deadlines_and_repeat_victims_match_the_hand_count(dataset):
    s = selectors.summary(MARCH)
    assert s["total"] == 5
    assert s["code_disclosed"] == 1
    assert s["money_lost"] == 2
    assert s["money_amount"] == Decimal("20000.50")
    outcomes = {o["value"]: o["n"] for o in s["outcomes"]}
    assert outcomes["no_harm"] == 1
    assert outcomes["money_lost"] == 1
    assert outcomes["referred_bank"] == 1
    assert outcomes["referred_police"] == 1
    assert outcomes["account_taken_over"] == 0
    assert s["referred"] == 2
    assert (s["resolved"], s["on_time"], s["due_resolved"]) == (4, 3, 4)
    assert s["on_time_share"] == 75.0
    assert s["open_overdue"] == 1  # c3
    assert s["repeat"] == 2  # c3 (c1 14.5 h before), c7 (c6 13 days before, outside)
    assert s["repeat_share"] == 40.0


def test_filters_by_channel_and_category_narrow_every_figure(dataset):
    chat = ReportFilter(date_from=MARCH.date_from, date_to=MARCH.date_to, channel="chat")
    assert selectors.summary(chat)["total"] == 1
    bank = ReportFilter(
        date_from=MARCH.date_from, date_to=MARCH.date_to, category_id=dataset.category_b.pk
    )
    s = selectors.summary(bank)
    # c3's earlier case c1 is in another category: c3 is still a repeat victim.
    assert (s["total"], s["repeat"], s["money_amount"]) == (2, 1, Decimal("5000.00"))
    assert selectors.sms_summary(bank)["total"] == 1


@pytest.mark.postgres
def test_median_and_p90_of_time_to_first_action_and_to_resolve(dataset):
    s = selectors.summary(MARCH)
    # first action: 10, 20, 30, 40, 50 min → median 30; p90 = 40 + 0.6 × 10 = 46 min
    assert s["first_action_median"] == 30 * 60
    assert s["first_action_p90"] == pytest.approx(46 * 60)
    # resolve: 60, 120, 200, 300 min → median 160; p90 = 200 + 0.7 × 100 = 270 min
    assert s["resolve_median"] == 160 * 60
    assert s["resolve_p90"] == pytest.approx(270 * 60)


def test_percentiles_are_absent_not_wrong_on_sqlite(dataset, settings):
    if settings.IS_POSTGRES:
        pytest.skip("SQLite behaviour")
    s = selectors.summary(MARCH)
    assert s["percentiles_supported"] is False
    assert s["resolve_median"] is None


def test_top_scammer_numbers_count_distinct_subscribers_in_the_period(dataset):
    phones = selectors.top_identifiers(MARCH, kind="phone")
    # +74951111111: c1 and c3 (same subscriber P1) and c4 (P3); c5 is in April.
    assert [(r["value"], r["subscribers"], r["cases"]) for r in phones] == [
        ("+74951111111", 2, 3),
        ("+74952222222", 1, 1),
    ]
    senders = selectors.top_identifiers(MARCH, kind="sender")
    assert [(r["value"], r["subscribers"], r["cases"]) for r in senders] == [
        ("BANK-SECURITY", 2, 2)
    ]


def test_step_completion_counts_each_result_per_step(dataset):
    rows = selectors.step_completion(MARCH)
    got = [
        (r["step__position"], r["total"], r["done"], r["not_applicable"], r["refused"],
         r["escalated"])
        for r in rows
    ]  # fmt: skip
    assert got == [(1, 2, 2, 0, 0, 0), (2, 2, 1, 1, 0, 0), (3, 1, 0, 0, 1, 0)]


def test_sms_figures_count_the_period_reminders_by_status(dataset):
    sms = selectors.sms_summary(MARCH)
    assert sms == {
        "total": 4,
        "scheduled": 1,
        "sent": 1,
        "delivered": 1,
        "failed": 1,
        "cancelled": 0,
        "skipped_opt_out": 1,
        "shifted_by_quiet_hours": 1,
    }


def test_specialists_are_listed_with_cases_handled(dataset, settings):
    rows = selectors.specialists(MARCH)
    assert [(r["username"], r["handled"], r["resolved"]) for r in rows] == [
        ("spec", 3, 3),
        ("spec2", 2, 1),
    ]
    if settings.IS_POSTGRES:
        # spec: 60, 300, 200 min → 200; spec2: 120 min.
        assert [r["median"] for r in rows] == [200 * 60, 120 * 60]


def test_an_empty_period_gives_zeros_not_errors(db):
    f = ReportFilter(date_from=date(2020, 1, 1), date_to=date(2020, 1, 1))
    report = selectors.report_build(f)
    assert report.summary["total"] == 0
    assert report.summary["repeat_share"] is None
    assert report.by_day == [
        {"day": date(2020, 1, 1), "hotline": 0, "chat": 0, "other": 0, "total": 0}
    ]


@pytest.mark.parametrize(
    "day,repeats",
    [
        (date(2026, 3, 3), 1),  # c3: c1 was 14.5 h earlier, on the day before
        (date(2026, 3, 5), 1),  # c7: c6 was 13 days earlier, outside any short period
        (date(2026, 3, 10), 0),  # c4: c0 was 54 days earlier
    ],
)
def test_repeat_victims_on_short_periods_look_back_before_the_period(dataset, day, repeats):
    # Short periods take the EXISTS path on PostgreSQL too; March takes the LAG path.
    assert selectors.repeat_victims(ReportFilter(date_from=day, date_to=day)) == repeats
