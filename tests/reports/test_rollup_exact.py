"""The PostgreSQL-only rollups (reports/rollup.py): duration histograms for the medians and
90th percentiles, identifier rows with subscriber arrays for the tops. Their figures must
be the very numbers the live queries give — percentile_cont's floats bit for bit, the tops
row for row — on durations with microseconds, repeated values, clean and live days."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from django.db import connection

from cases.models import Case
from cases.services import case_add_identifier, case_assign, case_set_status
from reports import rollup, selectors
from reports.filters import ReportFilter
from reports.models import CaseDurationRollup, IdentifierDayRollup

from .conftest import MARCH, msk

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

FILTERS = {
    "march": MARCH,
    "march chat": ReportFilter(MARCH.date_from, MARCH.date_to, channel="chat"),
    "one day": ReportFilter(date(2026, 3, 4), date(2026, 3, 4)),
    "a week": ReportFilter(date(2026, 3, 2), date(2026, 3, 8)),
}


@pytest.fixture(autouse=True)
def no_overlap(settings):
    settings.REPORTS_ROLLUP_OVERLAP_SECONDS = 0  # as in test_rollup.py


@pytest.fixture(autouse=True, params=["rollups even when mostly live", "as configured"])
def live_share_max(request, monkeypatch):
    # With a few cases, a live day is a large share of the period and the selectors would
    # take the plain queries: the first run forces the rollups' path with live days.
    if request.param.startswith("rollups"):
        monkeypatch.setattr(selectors, "LIVE_SHARE_MAX", 1.0)


@pytest.fixture
def cases(make_case, specialist, specialist2, integration) -> list[Case]:
    """48 cases over 2–9 March with durations to the microsecond, a third of them sharing
    a few values (histogram counts above 1), open ones, no first action, no assignee; and
    scammer identifiers linked to them (some subscribers report one number twice)."""
    rng = random.Random(7)
    shared = [timedelta(seconds=s) for s in (600, 1234.5, 1800)]
    phones = [f"+7916200{i:04d}" for i in range(20)]
    made = []
    for i in range(48):
        created = msk(3, 2 + i % 8, 9 + i % 11, i % 60) + timedelta(
            microseconds=rng.randrange(10**6)
        )

        def duration(low: float, high: float, i: int = i) -> timedelta:
            if i % 3 == 0:
                return rng.choice(shared)
            return timedelta(seconds=rng.uniform(low, high), microseconds=rng.randrange(10**6))

        first = created + duration(30, 3000) if i % 7 else None
        resolved = created + duration(600, 40000) if i % 5 else None
        case = make_case(channel="chat" if i % 4 == 0 else "hotline", phone=rng.choice(phones))
        Case.objects.filter(pk=case.pk).update(
            created_at=created,
            first_action_at=first,
            resolved_at=resolved,
            status="closed" if resolved else "in_progress",
            due_at=created + timedelta(hours=2),
            assignee=(specialist, specialist2, None)[i % 3],
        )
        case.refresh_from_db()
        for n in range(i % 3):
            value = f"+7495{rng.randrange(6) + n:07d}" if n == 0 else f"BANK-{rng.randrange(4)}"
            case_add_identifier(
                case=case, kind="phone" if n == 0 else "sender", value=value, actor=integration
            )
        made.append(case)
    return made


def assert_rolled_up_equals_live() -> None:
    for name, f in FILTERS.items():
        live = rollup.live_days(f)
        assert live.days is not None, name
        assert selectors.speeds_for(f, live) == selectors.speeds_live(f), name
        tops = selectors.top_identifiers_by_kind(f, live)
        assert tops == selectors.top_identifiers_live_by_kind(f), name
        assert tops["phone"] and tops["sender"], name  # the data set has both kinds
        assert tops["phone"] == selectors.top_identifiers_live(f, kind="phone"), name


def test_percentiles_and_tops_from_the_rollups_equal_the_live_queries_exactly(cases):
    rollup.rollup_rebuild()
    assert rollup.live_days(MARCH).days == []
    speeds = selectors.speeds_for(MARCH)
    assert speeds.first_action[0] % 1 and speeds.resolve[1] % 1  # microseconds, not minutes
    assert len(speeds.resolve_median_by_assignee) == 2
    assert_rolled_up_equals_live()


def test_they_stay_equal_with_live_days_before_and_after_the_refresh(
    cases, supervisor, specialist2, integration
):
    rollup.rollup_rebuild()
    case_set_status(case=cases[5], status="resolved", outcome="duplicate", actor=specialist2)
    case_assign(case=cases[11], assignee=specialist2, actor=supervisor)
    case_add_identifier(case=cases[15], kind="phone", value="+74959999999", actor=integration)
    assert rollup.live_days(MARCH).days == [date(2026, 3, 5), date(2026, 3, 7), date(2026, 3, 9)]
    assert_rolled_up_equals_live()
    # The refresh also redoes the later days of the same subscribers (repeat victims).
    assert rollup.rollup_refresh() >= 3
    assert rollup.live_days(MARCH).days == []
    assert_rolled_up_equals_live()


def test_the_clean_days_are_read_from_the_rollups(cases):
    rollup.rollup_rebuild()
    before = selectors.speeds_for(MARCH)
    tops = selectors.top_identifiers_by_kind(MARCH)
    # Tamper: every stored duration + 1000 s, one more subscriber on every identifier row.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {CaseDurationRollup._meta.db_table} "
            "SET seconds = ARRAY(SELECT s + 1000 FROM unnest(seconds) AS s)"
        )
        cursor.execute(
            f"UPDATE {IdentifierDayRollup._meta.db_table} "
            "SET subscribers = subscribers || -1::bigint"
        )
    after = selectors.speeds_for(MARCH)
    assert after.first_action == pytest.approx(tuple(v + 1000 for v in before.first_action))
    assert after.resolve == pytest.approx(tuple(v + 1000 for v in before.resolve))
    top = selectors.top_identifiers_by_kind(MARCH)["phone"][0]
    assert top["subscribers"] == tops["phone"][0]["subscribers"] + 1
    # The live queries never look at the rollups.
    assert selectors.speeds_live(MARCH) == before


@pytest.mark.parametrize(
    "reports,winner",
    [
        # A: one subscriber, three days (bound 3, one subscriber); B: two subscribers (bound
        # 2). A is the only candidate and B's bound reaches A's count: the query must count
        # every identifier, and B wins.
        ({"A": ["p1", "p1", "p1"], "B": ["p2", "p3"]}, "B"),
        # A: three subscribers; B's bound 1 is below A's three: the candidates suffice.
        ({"A": ["p1", "p2", "p3"], "B": ["p4"]}, "A"),
    ],
)
def test_the_top_is_exact_whether_the_candidates_settle_it_or_not(
    make_case, integration, monkeypatch, reports, winner
):
    monkeypatch.setattr(selectors, "TOP_CANDIDATES_PER_ROW", 1)
    monkeypatch.setattr(selectors, "TOP_CANDIDATES_MIN", 1)
    phones = {"p1": "+79163000001", "p2": "+79163000002", "p3": "+79163000003",
              "p4": "+79163000004"}  # fmt: skip
    values = {"A": "+74953000001", "B": "+74953000002"}
    for name, subscribers in reports.items():
        for day, p in enumerate(subscribers, start=2):
            case = make_case(phone=phones[p])
            Case.objects.filter(pk=case.pk).update(created_at=msk(3, day, 12))
            case_add_identifier(case=case, kind="phone", value=values[name], actor=integration)
    rollup.rollup_rebuild()
    live = rollup.live_days(MARCH)
    assert live.days == []
    top = selectors.top_identifiers_by_kind(MARCH, live, limit=1)["phone"]
    assert [r["value"] for r in top] == [values[winner]]
    assert top == selectors.top_identifiers_live_by_kind(MARCH, limit=1)["phone"]
    both = selectors.top_identifiers_by_kind(MARCH, live, limit=2)["phone"]
    assert both == selectors.top_identifiers_live_by_kind(MARCH, limit=2)["phone"]
