"""The daily rollup: every report figure computed from the rollup (plus the live fallback
for changed days) equals the same figure computed live from the cases, on the fixed data
set, before and after changes to cases (status change, reassignment, late outcome,
reopening, a backdated case), with and without a refresh; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Now, TruncDate

from cases.models import Case, Channel, Outcome
from cases.services import case_assign, case_set_status, case_update
from reports import rollup, selectors
from reports.filters import MOSCOW, ReportFilter
from reports.models import CaseDayRollup, RollupState
from tests.reports.test_queries import CALLS_QUERIES

from .conftest import MARCH, DataSet, msk

pytestmark = pytest.mark.django_db

FILTERS = {
    "march": MARCH,
    "march hotline": ReportFilter(MARCH.date_from, MARCH.date_to, channel="hotline"),
    "one day": ReportFilter(date(2026, 3, 2), date(2026, 3, 2)),
    "two days": ReportFilter(date(2026, 3, 2), date(2026, 3, 3)),
    "jan-apr": ReportFilter(date(2026, 1, 1), date(2026, 4, 30)),
}


@pytest.fixture(autouse=True)
def no_overlap(settings):
    # The watermark is the refresh's start: the cases the test changes afterwards are the
    # only dirty ones (the default 5-minute overlap would make every fresh case dirty).
    settings.REPORTS_ROLLUP_OVERLAP_SECONDS = 0


def live_report(f: ReportFilter) -> dict[str, Any]:
    """Every figure the page shows, computed straight from the cases with the ORM (the
    computation the reports did before the rollup)."""
    cases = Case.objects.filter(f.case_q())
    per_day = {
        (r["day"] if isinstance(r["day"], date) else date.fromisoformat(r["day"]), r["channel"]): r[
            "n"
        ]
        for r in cases.annotate(day=TruncDate("created_at", tzinfo=MOSCOW))
        .values("day", "channel")
        .annotate(n=Count("id"))
        .order_by()
    }
    by_day = []
    for i in range(f.days):
        day = f.date_from + timedelta(days=i)
        per = {ch: per_day.get((day, ch), 0) for ch in Channel.values}
        by_day.append({"day": day, **per, "total": sum(per.values())})
    by_category = list(
        cases.values("category_id", name=F("category__name"))
        .annotate(n=Count("id"))
        .order_by("-n", "name")
    )
    summary = cases.aggregate(
        total=Count("id"),
        code_disclosed=Count("id", filter=Q(code_disclosed=True)),
        money_lost=Count("id", filter=Q(money_lost=True)),
        money_amount=Sum("money_amount"),
        resolved=Count("id", filter=Q(resolved_at__isnull=False)),
        due_resolved=Count("id", filter=Q(resolved_at__isnull=False, due_at__isnull=False)),
        on_time=Count("id", filter=Q(resolved_at__lte=F("due_at"))),
        open_overdue=Count("id", filter=Q(resolved_at__isnull=True, due_at__lt=Now())),
        **{f"is_{o}": Count("id", filter=Q(outcome=o)) for o in Outcome.values},
    )
    summary["outcomes"] = {o: summary.pop(f"is_{o}") for o in Outcome.values}
    summary["repeat"] = selectors.repeat_victims(f)  # the live EXISTS / LAG computation
    specialists = [
        {k: r[k] for k in ("assignee_id", "handled", "resolved")}
        for r in cases.filter(assignee__isnull=False)
        .values("assignee_id", "assignee__username")
        .annotate(handled=Count("id"), resolved=Count("id", filter=Q(resolved_at__isnull=False)))
        .order_by("-handled", "assignee__username")
    ]
    if selectors.percentiles_supported():
        p = cases.aggregate(
            first=selectors.Percentiles(
                selectors._seconds("first_action_at", "created_at"), (0.5, 0.9)
            ),
            resolve=selectors.Percentiles(
                selectors._seconds("resolved_at", "created_at"), (0.5, 0.9)
            ),
        )
        summary["first"] = tuple(p["first"] or (None, None))
        summary["resolve"] = tuple(p["resolve"] or (None, None))
        medians = {
            r["assignee_id"]: r["m"][0] if r["m"] else None
            for r in cases.filter(assignee__isnull=False)
            .values("assignee_id")
            .annotate(
                m=selectors.Percentiles(selectors._seconds("resolved_at", "created_at"), (0.5,))
            )
            .order_by()
        }
        for r in specialists:
            r["median"] = medians[r["assignee_id"]]
    return {
        "by_day": by_day,
        "by_category": by_category,
        "summary": summary,
        "specialists": specialists,
        "top_phones": selectors.top_identifiers_live(f, kind="phone"),
        "top_senders": selectors.top_identifiers_live(f, kind="sender"),
    }


def reported(f: ReportFilter) -> dict[str, Any]:
    """The same figures as report_build() gives them to the page."""
    report = selectors.report_build(f)
    s = report.summary
    summary = {
        k: s[k]
        for k in (
            "total",
            "code_disclosed",
            "money_lost",
            "money_amount",
            "resolved",
            "due_resolved",
            "on_time",
            "open_overdue",
            "repeat",
        )
    }
    summary["outcomes"] = {o["value"]: o["n"] for o in s["outcomes"]}
    keys = ["assignee_id", "handled", "resolved"]
    if selectors.percentiles_supported():
        summary["first"] = (s["first_action_median"], s["first_action_p90"])
        summary["resolve"] = (s["resolve_median"], s["resolve_p90"])
        keys.append("median")
    return {
        "by_day": report.by_day,
        "by_category": report.by_category,
        "summary": summary,
        "specialists": [{k: r[k] for k in keys} for r in report.specialists],
        "top_phones": report.top_phones,  # both kinds in one query
        "top_senders": report.top_senders,
    }


def assert_all_filters_equal(ds: DataSet) -> None:
    filters = {
        **FILTERS,
        "march category B": ReportFilter(
            MARCH.date_from, MARCH.date_to, category_id=ds.category_b.pk
        ),
    }
    for name, f in filters.items():
        assert reported(f) == live_report(f), name


def make_changes(ds: DataSet, supervisor, specialist2) -> None:
    c = ds.cases
    # Status change: the open, overdue c3 is resolved (no longer overdue; resolved late).
    case_set_status(case=c["c3"], status="resolved", outcome="duplicate", actor=specialist2)
    # Reassignment: c2 moves from specialist to specialist2.
    case_assign(case=c["c2"], assignee=specialist2, actor=supervisor)
    # Late outcome: c4 turns out to be a lost-money case.
    case_update(case=c["c4"], outcome="money_lost", actor=specialist2)
    # Reopening: c7 is open again, its outcome and resolution gone.
    case_set_status(case=c["c7"], status="in_progress", actor=supervisor)


def test_every_figure_equals_the_live_computation_before_anything_is_rolled_up(dataset):
    assert not RollupState.objects.exists()
    assert rollup.live_days(MARCH).days is None  # every day is counted from the cases
    assert_all_filters_equal(dataset)


def test_every_figure_equals_the_live_computation_from_a_fresh_rebuild(dataset):
    assert rollup.rollup_rebuild() > 0
    state = RollupState.objects.get()
    assert rollup.dirty_days(state.watermark) == set()
    assert rollup.live_days(MARCH).days == []  # every day is read from the rollup
    assert CaseDayRollup.objects.filter(day__gte=MARCH.date_from, day__lte=MARCH.date_to).count()
    assert_all_filters_equal(dataset)


def test_figures_stay_equal_after_changes_before_and_after_the_refresh(
    dataset, supervisor, specialist2
):
    rollup.rollup_rebuild()
    before = reported(MARCH)
    make_changes(dataset, supervisor, specialist2)
    # Not refreshed yet: the changed days (2, 3, 5 and 10 March) are counted live.
    assert rollup.live_days(MARCH).days == [date(2026, 3, d) for d in (2, 3, 5, 10)]
    # The refresh redoes the same days: the subscribers' later cases within 30 days of the
    # changed ones are on these days too (c5, 20 April, is 49 days after c2).
    assert rollup.dirty_days(RollupState.objects.get().watermark) == {
        date(2026, 3, d) for d in (2, 3, 5, 10)
    }
    assert_all_filters_equal(dataset)
    after = reported(MARCH)
    assert after != before
    assert after["summary"]["open_overdue"] == 1  # c7 reopened; c3 resolved
    assert after["summary"]["outcomes"]["money_lost"] == 2
    # The refresh recomputes exactly those days; then everything is read from the rollup.
    assert rollup.rollup_refresh() == 4
    assert rollup.dirty_days(RollupState.objects.get().watermark) == set()
    assert_all_filters_equal(dataset)
    assert reported(MARCH) == after
    assert rollup.rollup_refresh() == 0  # nothing changed since


def test_a_backdated_case_makes_the_later_case_of_its_subscriber_a_repeat_after_the_refresh(
    dataset, make_case, category
):
    rollup.rollup_rebuild()
    assert reported(MARCH)["summary"]["repeat"] == 2
    # P3's c4 (10 March) had no case in the 30 days before; now one on 1 March appears,
    # written around the services (as a bulk load would).
    new = make_case(channel="chat", category=category, phone="+79161110003")
    Case.objects.filter(pk=new.pk).update(created_at=msk(3, 1, 12))
    # Until the refresh, only the new case's own day is live: c4's flag is the rolled-up one.
    assert rollup.live_days(MARCH).days == [date(2026, 3, 1)]
    assert reported(MARCH)["summary"]["total"] == 6
    assert reported(MARCH)["summary"]["repeat"] == 2
    assert live_report(MARCH)["summary"]["repeat"] == 3
    # The refresh follows the subscriber to her later cases.
    assert rollup.rollup_refresh() == 2  # 1 March (the new case) and 10 March (c4)
    assert reported(MARCH)["summary"]["repeat"] == 3
    assert_all_filters_equal(dataset)


def test_the_report_reads_the_rollup_for_clean_days_and_the_cases_for_changed_days(
    dataset, supervisor, specialist2
):
    rollup.rollup_rebuild()
    # Tamper with the rollup: the clean days show it, so they are read from it.
    CaseDayRollup.objects.update(total=F("total") + 100)
    rows = CaseDayRollup.objects.filter(day__gte=MARCH.date_from, day__lte=MARCH.date_to)
    assert reported(MARCH)["summary"]["total"] == 5 + 100 * rows.count()
    # Reassigning c2 (2 March) makes 2 March dirty: its rows are ignored, its cases counted.
    case_assign(case=dataset.cases["c2"], assignee=specialist2, actor=supervisor)
    on_2nd = rows.filter(day=date(2026, 3, 2)).count()
    assert reported(MARCH)["summary"]["total"] == 5 + 100 * (rows.count() - on_2nd)


def test_refresh_without_a_watermark_rebuilds_everything(dataset):
    assert rollup.rollup_refresh() > 0
    assert RollupState.objects.exists()
    assert_all_filters_equal(dataset)


def test_the_rebuild_command_and_the_beat_schedule(dataset, settings):
    call_command("reports_rollup_rebuild", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert RollupState.objects.exists()
    schedule = settings.CELERY_BEAT_SCHEDULE["reports-rollup-refresh"]
    assert schedule["task"] == "reports.tasks.rollup_refresh"


def test_the_rollup_has_a_column_for_every_outcome():
    fields = {f.name for f in CaseDayRollup._meta.get_fields()}
    assert {f"outcome_{o}" for o in Outcome.values} <= fields
    assert set(rollup.FIGURES) <= fields


def test_the_full_report_is_six_queries_with_the_rollup(
    dataset, supervisor, specialist2, django_assert_num_queries
):
    rollup.rollup_rebuild()
    make_changes(dataset, supervisor, specialist2)
    # speeds (live), live days, figure rows (rollup + live days), identifier tops (both),
    # steps, SMS
    with django_assert_num_queries(6 + CALLS_QUERIES):  # + the calls section
        selectors.report_build(MARCH)
