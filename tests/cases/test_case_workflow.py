from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cases.models import Case, CaseEvent, Status, StepOutcome, Subscriber
from cases.services import (
    CaseConflict,
    case_add_identifier,
    case_add_note,
    case_append_message,
    case_assign,
    case_record_step,
    case_set_status,
    case_update,
)
from playbooks.models import Priority

pytestmark = pytest.mark.django_db


def _do_required_steps(case, actor):
    for step in case.playbook_version.steps.filter(is_required=True):
        case_record_step(case=case, step=step, result=StepOutcome.Result.DONE, actor=actor)


def test_opening_a_case_creates_the_subscriber_pins_the_playbook_and_sets_the_deadline(
    make_case, category
):
    before = timezone.now()
    case = make_case(phone="8 916 555-44-33")
    assert case.subscriber.msisdn == "+79165554433"
    assert case.number.endswith(f"-{case.pk:06d}")
    assert case.playbook_version == category.playbook.current_version
    assert case.status == Status.NEW
    assert before + timedelta(minutes=240) <= case.due_at <= timezone.now() + timedelta(minutes=240)
    assert list(case.events.values_list("kind", flat=True)) == [CaseEvent.Kind.CREATED]


def test_a_disclosed_code_makes_the_case_urgent_with_the_short_deadline(make_case):
    case = make_case(code_disclosed=True)
    assert case.priority == Priority.URGENT
    assert case.due_at - case.created_at == timedelta(minutes=30)


def test_a_second_case_for_the_same_number_reuses_the_subscriber(make_case):
    first = make_case(phone="+79160000001")
    second = make_case(phone="89160000001")
    assert first.subscriber_id == second.subscriber_id
    assert Subscriber.objects.count() == 1
    assert list(first.subscriber.cases.order_by("id")) == [first, second]


def test_it_refuses_a_bad_phone_number_and_writes_nothing(make_case):
    with pytest.raises(ValidationError):
        make_case(phone="12")
    assert Case.objects.count() == 0 and Subscriber.objects.count() == 0


def test_money_amount_implies_money_lost_and_cannot_be_negative(make_case):
    assert make_case(money_amount=Decimal("15000")).money_lost is True
    with pytest.raises(ValidationError):
        make_case(money_amount=Decimal("-1"))


def test_it_refuses_an_invalid_transition_with_a_clear_message(make_case, specialist):
    case = make_case()
    case = case_set_status(case=case, status=Status.IN_PROGRESS, actor=specialist)
    _do_required_steps(case, specialist)
    case = case_set_status(case=case, status=Status.RESOLVED, actor=specialist, outcome="no_harm")
    with pytest.raises(ValidationError) as exc:
        case_set_status(case=case, status=Status.WAITING, actor=specialist)
    assert "Нельзя перевести обращение" in str(exc.value)


def test_closing_needs_an_outcome_and_every_required_step(make_case, specialist):
    case = make_case()
    with pytest.raises(ValidationError, match="итог"):
        case_set_status(case=case, status=Status.CLOSED, actor=specialist)
    with pytest.raises(ValidationError, match="обязательные шаги"):
        case_set_status(case=case, status=Status.CLOSED, actor=specialist, outcome="no_harm")
    _do_required_steps(case, specialist)
    case = case_set_status(case=case, status=Status.CLOSED, actor=specialist, outcome="no_harm")
    assert case.status == Status.CLOSED and case.closed_at and case.resolved_at
    assert case.outcome == "no_harm"


def test_a_duplicate_closes_without_the_steps(make_case, specialist):
    case = make_case()
    case = case_set_status(case=case, status=Status.CLOSED, actor=specialist, outcome="duplicate")
    assert case.status == Status.CLOSED


def test_reopening_clears_the_outcome_and_the_close_time(make_case, specialist):
    case = make_case()
    case = case_set_status(case=case, status=Status.CLOSED, actor=specialist, outcome="duplicate")
    case = case_set_status(case=case, status=Status.IN_PROGRESS, actor=specialist)
    assert (case.outcome, case.closed_at, case.resolved_at) == ("", None, None)
    kinds = list(case.events.values_list("kind", "data__new"))
    assert kinds[-2:] == [("status", "closed"), ("status", "in_progress")]


def test_a_stale_version_is_refused_and_nothing_is_overwritten(make_case, specialist, supervisor):
    case = make_case()
    seen = case.version
    case_update(case=case, actor=supervisor, expected_version=seen, priority=Priority.HIGH)
    with pytest.raises(CaseConflict):
        case_update(case=case, actor=specialist, expected_version=seen, priority=Priority.LOW)
    case.refresh_from_db()
    assert case.priority == Priority.HIGH and case.version == seen + 1


def test_first_action_is_the_first_change_by_a_person(make_case, specialist):
    case = make_case()
    assert case.first_action_at is None
    case = case_set_status(case=case, status=Status.IN_PROGRESS, actor=specialist)
    assert case.first_action_at is not None


def test_a_step_outcome_is_recorded_once_and_can_be_corrected(make_case, specialist):
    case = make_case()
    step = case.playbook_version.steps.first()
    case_record_step(case=case, step=step, result="refused", actor=specialist)
    case_record_step(case=case, step=step, result="done", actor=specialist, note="со второго раза")
    assert StepOutcome.objects.get(case=case).result == "done"
    assert case.events.filter(kind="step").count() == 2


def test_a_step_from_another_playbook_version_is_refused(make_case, specialist, category):
    from playbooks.services import playbook_create_draft, playbook_publish

    old_case = make_case()
    draft = playbook_create_draft(playbook=category.playbook, actor=None)
    playbook_publish(version=draft)
    new_step = draft.steps.first()
    with pytest.raises(ValidationError):
        case_record_step(case=old_case, step=new_step, result="done", actor=specialist)


def test_only_a_supervisor_assigns_others_and_a_specialist_may_take_a_free_case(
    make_case, specialist, specialist2, supervisor, manager
):
    case = make_case()
    with pytest.raises(PermissionDenied):
        case_assign(case=case, assignee=specialist2, actor=specialist)
    with pytest.raises(PermissionDenied):
        case_assign(case=case, assignee=specialist, actor=manager)
    case = case_assign(case=case, assignee=specialist, actor=specialist)
    assert case.assignee == specialist
    with pytest.raises(PermissionDenied):
        case_assign(case=case, assignee=specialist2, actor=specialist2)
    case = case_assign(case=case, assignee=specialist2, actor=supervisor)
    assert case.assignee == specialist2
    with pytest.raises(ValidationError):
        case_assign(case=case, assignee=manager, actor=supervisor)


def test_scammer_identifiers_are_normalised_and_counted_across_cases(make_case, specialist):
    a, b = make_case(), make_case()
    first = case_add_identifier(case=a, kind="phone", value="8 (495) 123-45-67", actor=specialist)
    again = case_add_identifier(case=b, kind="phone", value="+74951234567", actor=specialist)
    case_add_identifier(case=b, kind="phone", value="74951234567", actor=specialist)  # no-op
    assert first.pk == again.pk and first.value == "+74951234567"
    assert first.links.count() == 2
    link = case_add_identifier(
        case=a, kind="link", value="https://WWW.Gosuslugi-verify.site/x/", actor=specialist
    )
    assert link.value == "gosuslugi-verify.site"
    same = case_add_identifier(case=b, kind="link", value="gosuslugi-verify.site", actor=specialist)
    assert same.pk == link.pk and link.links.count() == 2
    with pytest.raises(ValidationError):
        case_add_identifier(case=a, kind="link", value="not a link", actor=specialist)


def test_a_chat_line_is_appended_once_whatever_the_retries(make_case, integration):
    case = make_case(channel="chat")
    sent = timezone.now()
    for _ in range(3):
        case_append_message(
            case=case, external_id="m-1", author="subscriber", text="Мне звонили", sent_at=sent,
            actor=integration,
        )  # fmt: skip
    assert case.messages.count() == 1
    assert case.events.filter(kind="message").count() == 1


def test_an_empty_note_is_refused(make_case, specialist):
    with pytest.raises(ValidationError):
        case_add_note(case=make_case(), actor=specialist, text="   ")
