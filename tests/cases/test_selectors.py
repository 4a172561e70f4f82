import pytest

from cases.selectors import (
    case_get_detail,
    case_steps,
    identifiers_for_case,
    subscriber_find,
    subscriber_history,
)
from cases.services import case_add_identifier, case_record_step, case_set_status

pytestmark = pytest.mark.django_db


def test_the_subscriber_card_lists_open_cases_first_and_flags_a_repeat_victim(
    make_case, specialist
):
    closed = make_case(phone="+79160000001")
    case_set_status(case=closed, status="closed", actor=specialist, outcome="duplicate")
    open_ = make_case(phone="+79160000001")
    history = subscriber_history(subscriber=subscriber_find(phone="8 916 000-00-01"))
    assert history.open_cases == [open_]
    assert [c.pk for c in history.recent_cases] == [open_.pk, closed.pk]
    assert history.total_cases == 2 and history.is_repeat_victim


def test_the_card_counts_every_case_not_only_the_ones_it_lists(make_case, settings):
    from datetime import timedelta

    from django.utils import timezone

    from cases.models import Case

    cases = [make_case(phone="+79160000003") for _ in range(35)]  # the card lists 30 at most
    old = timezone.now() - timedelta(days=settings.REPEAT_VICTIM_DAYS + 1)
    Case.objects.filter(pk__in=[c.pk for c in cases[:7]]).update(created_at=old)
    history = subscriber_history(subscriber=cases[0].subscriber)
    assert len(history.recent_cases) == 10 and len(history.open_cases) == 30
    assert (history.total_cases, history.cases_in_repeat_window) == (35, 28)


def test_a_subscriber_without_cases_has_an_empty_card(make_case):
    from cases.services import subscriber_get_or_create

    subscriber, _ = subscriber_get_or_create(phone="+79160000004")
    history = subscriber_history(subscriber=subscriber)
    assert (history.total_cases, history.cases_in_repeat_window, history.open_cases) == (0, 0, [])
    assert not history.is_repeat_victim


def test_an_unknown_number_finds_nobody(db):
    assert subscriber_find(phone="+79169999999") is None


@pytest.mark.parametrize("n", [1, 15])
def test_the_subscriber_card_runs_one_query_for_any_history(
    make_case, n, django_assert_num_queries
):
    for _ in range(n):
        case = make_case(phone="+79160000002")
    with django_assert_num_queries(1):  # cases with category, assignee and window counts
        subscriber_history(subscriber=case.subscriber)


def test_identifiers_carry_how_many_cases_reported_them(make_case, specialist):
    a, b, c = make_case(), make_case(), make_case()
    for case in (a, b, c):
        case_add_identifier(case=case, kind="phone", value="+74951112233", actor=specialist)
    case_add_identifier(case=a, kind="sender", value="bank-info", actor=specialist)
    got = {i.value: i.case_count for i in identifiers_for_case(case=a)}
    assert got == {"+74951112233": 3, "BANK-INFO": 1}


@pytest.mark.parametrize("n_events", [1, 20])
def test_the_case_detail_runs_the_same_queries_for_any_timeline(
    make_case, specialist, n_events, django_assert_num_queries
):
    from cases.services import case_add_note

    case = make_case()
    for i in range(n_events):
        case_add_note(case=case, actor=specialist, text=f"Заметка {i}")
    step = case.playbook_version.steps.first()
    case_record_step(case=case, step=step, result="done", actor=specialist)
    # case with joins; events with actors; step outcomes with actors; chat messages (the
    # pinned version's steps: read once for the process when the case was opened)
    with django_assert_num_queries(4):
        detail = case_get_detail(case_id=case.pk)
        rows = case_steps(case=detail)
        assert [e.actor for e in detail.events.all()]
        assert rows[0].outcome.result == "done" and rows[1].outcome is None
