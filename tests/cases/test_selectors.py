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


def test_an_unknown_number_finds_nobody(db):
    assert subscriber_find(phone="+79169999999") is None


@pytest.mark.parametrize("n", [1, 15])
def test_the_subscriber_card_runs_two_queries_for_any_history(
    make_case, n, django_assert_num_queries
):
    for _ in range(n):
        case = make_case(phone="+79160000002")
    with django_assert_num_queries(2):  # counts; cases with category and assignee
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
    # case with joins; events with actors; step outcomes with actors; chat messages; steps
    with django_assert_num_queries(5):
        detail = case_get_detail(case_id=case.pk)
        rows = case_steps(case=detail)
        assert [e.actor for e in detail.events.all()]
        assert rows[0].outcome.result == "done" and rows[1].outcome is None
