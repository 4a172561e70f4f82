"""Past periods' reports come from the cache under an exact key (reports/selectors.py
report_build): the key changes with every change the figures could see, so a cached
report always equals a fresh one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F

from cases.models import Case
from cases.services import case_assign, case_set_status
from reports import rollup, selectors
from reports.models import CaseDayRollup, RollupState
from tests.reports.test_queries import CALLS_QUERIES

from .conftest import MARCH
from .test_rollup import live_report, reported

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def no_overlap(settings):
    settings.REPORTS_ROLLUP_OVERLAP_SECONDS = 0  # as in test_rollup.py


def test_a_past_period_is_built_once_then_read_from_the_cache(dataset, django_assert_num_queries):
    rollup.rollup_rebuild()
    first = reported(MARCH)
    assert first == live_report(MARCH)
    # live days + stamp, open overdue (the clock), steps, SMS
    with django_assert_num_queries(4 + CALLS_QUERIES):  # calls are not cached
        report = selectors.report_build(MARCH)
    assert report.summary["total"] == 5
    assert reported(MARCH) == first
    # Proof that the rolled-up parts came from the cache: tampering with the rollup in a
    # way the stamp cannot see (same rows, same ids) does not show.
    CaseDayRollup.objects.update(total=F("total") + 100)
    assert reported(MARCH) == first


def test_open_overdue_cases_are_counted_afresh_on_a_cache_hit(dataset):
    rollup.rollup_rebuild()
    assert selectors.report_build(MARCH).summary["open_overdue"] == 1  # c3
    # The deadline moves without the services (as the clock would overtake it): only the
    # open overdue count can see it, and it does.
    Case.objects.filter(pk=dataset.cases["c3"].pk).update(
        due_at=F("created_at") + (10**6) * (F("due_at") - F("created_at"))
    )
    assert selectors.report_build(MARCH).summary["open_overdue"] == 0


def test_a_change_is_live_until_the_refresh_and_then_changes_the_key(
    dataset, supervisor, specialist2
):
    rollup.rollup_rebuild()
    before = reported(MARCH)
    case_assign(case=dataset.cases["c2"], assignee=specialist2, actor=supervisor)
    case_set_status(
        case=dataset.cases["c3"], status="resolved", outcome="duplicate", actor=specialist2
    )
    assert rollup.live_days(MARCH).days  # changed days: no cache
    changed = reported(MARCH)
    assert changed != before
    assert changed == live_report(MARCH)
    stamp = rollup.live_days(MARCH).stamp
    rollup.rollup_refresh()
    assert rollup.live_days(MARCH).days == []
    assert rollup.live_days(MARCH).stamp != stamp
    assert reported(MARCH) == changed == live_report(MARCH)


def test_renaming_a_category_or_a_specialist_changes_the_key(dataset, specialist):
    rollup.rollup_rebuild()
    reported(MARCH)
    dataset.category_b.name = "Звонок «из банка», новое название"
    dataset.category_b.save()
    names = {r["name"] for r in selectors.report_build(MARCH).by_category}
    assert "Звонок «из банка», новое название" in names
    specialist.first_name = "Зинаида"
    specialist.save()
    assert "Зинаида" in {r["name"] for r in selectors.report_build(MARCH).specialists}


def test_a_rebuild_under_way_counts_every_day_live(dataset):
    rollup.rollup_rebuild()
    reported(MARCH)
    # The state a rebuild leaves between its first and last batch: rollups emptied.
    RollupState.objects.update(rebuilding=True)
    CaseDayRollup.objects.all().delete()
    assert rollup.live_days(MARCH).days is None
    assert rollup.rollup_refresh() == 0  # the running rebuild is left alone
    assert reported(MARCH) == live_report(MARCH)


def test_a_rebuild_that_never_finished_is_started_again_by_the_refresh(dataset):
    rollup.rollup_rebuild()
    RollupState.objects.update(
        rebuilding=True, refreshed_at=F("refreshed_at") - rollup.REBUILD_STALE - timedelta(1)
    )
    CaseDayRollup.objects.all().delete()
    assert rollup.rollup_refresh() > 0
    assert not RollupState.objects.get().rebuilding
    assert rollup.live_days(MARCH).days == []
    assert reported(MARCH) == live_report(MARCH)
