from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import CaseEvent, Status, StepOutcome, Subscriber
from cases.services import case_open, case_record_step, case_set_status
from reminders import services
from reminders.backends.base import Receipt
from reminders.models import Reminder
from reminders.selectors import reminders_for_case

from .conftest import opt_out_directly

pytestmark = pytest.mark.django_db
S = Reminder.Status
MOSCOW_NOON = datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))


@pytest.fixture(autouse=True)
def daytime_in_moscow():
    """Dispatch tests run at noon Moscow time: the real clock may be in quiet hours."""
    with time_machine.travel(MOSCOW_NOON, tick=True):
        yield


def _due(reminder: Reminder) -> None:
    Reminder.objects.filter(pk=reminder.pk).update(send_after=timezone.now() - timedelta(seconds=1))


def _kinds(case) -> list[str]:
    return list(case.events.values_list("kind", flat=True))


def test_opening_a_case_schedules_the_on_open_sms_rendered_with_the_case_number(sms_case):
    with time_machine.travel(MOSCOW_NOON, tick=False):
        case = sms_case()
    (reminder,) = Reminder.objects.filter(case=case)
    assert reminder.text == f"Обращение {case.number}: никому не сообщайте коды из SMS."
    assert reminder.status == S.SCHEDULED and reminder.parts == 1
    assert reminder.send_after == MOSCOW_NOON + timedelta(minutes=5)
    assert reminder.subscriber_id == case.subscriber_id
    assert _kinds(case) == [CaseEvent.Kind.CREATED, CaseEvent.Kind.SMS_SCHEDULED]


def test_the_sms_adds_exactly_three_queries_to_case_open(sms_case, make_case, category):
    with CaptureQueriesContext(connection) as without_sms:
        make_case(category=category)  # its playbook has no on_open SMS: one query for steps
    with CaptureQueriesContext(connection) as with_sms:
        sms_case()
    # + INSERT reminders (bulk) + INSERT timeline events (bulk)
    assert len(with_sms) - len(without_sms) == 2
    steps_query = [q["sql"] for q in without_sms if "playbooks_step" in q["sql"]]
    assert len(steps_query) == 1


def test_finishing_a_step_schedules_its_sms_once_even_when_recorded_again(sms_case, specialist):
    case = sms_case()
    step = case.playbook_version.steps.get(position=2)
    for result in ("done", "not_applicable", "done"):
        case_record_step(case=case, step=step, result=result, actor=specialist)
    on_done = Reminder.objects.filter(case=case, step=step)
    assert on_done.count() == 1
    assert on_done.get().send_after > timezone.now() + timedelta(hours=23)


def test_a_step_marked_not_applicable_schedules_nothing(sms_case, specialist):
    case = sms_case()
    step = case.playbook_version.steps.get(position=2)
    case_record_step(case=case, step=step, result="not_applicable", actor=specialist)
    assert not Reminder.objects.filter(case=case, step=step).exists()


def test_a_reminder_due_at_night_waits_for_the_subscribers_morning(sms_case):
    # 20:58 in Novosibirsk (UTC+7) + 5 minutes = 21:03: quiet; it goes at 09:00 local.
    moment = datetime(2026, 3, 10, 20, 58, tzinfo=ZoneInfo("Asia/Novosibirsk"))
    with time_machine.travel(moment, tick=False):
        case = sms_case(time_zone="Asia/Novosibirsk")
    reminder = Reminder.objects.get(case=case)
    assert reminder.shifted_by_quiet_hours
    assert reminder.send_after == datetime(2026, 3, 11, 9, 0, tzinfo=ZoneInfo("Asia/Novosibirsk"))


def test_a_subscriber_who_opted_out_gets_nothing_and_the_case_says_why(sms_case, sms_locmem):
    first = sms_case(phone="+79160000011")
    services.reminder_inbound_message(msisdn="+79160000011", text="стоп")
    second = sms_case(phone="+79160000011")
    assert Reminder.objects.get(case=second).status == S.SKIPPED_OPT_OUT
    assert Reminder.objects.get(case=first).status == S.SKIPPED_OPT_OUT
    Reminder.objects.update(send_after=timezone.now() - timedelta(seconds=1))
    assert services.reminders_dispatch(budget_seconds=0) == 0
    assert sms_locmem.outbox == []


def test_opt_out_is_checked_again_when_the_reminder_is_due(sms_case, sms_locmem):
    case = sms_case()
    reminder = Reminder.objects.get(case=case)
    _due(reminder)
    opt_out_directly(case.subscriber)
    services.reminders_dispatch(budget_seconds=0)
    reminder.refresh_from_db()
    assert reminder.status == S.SKIPPED_OPT_OUT and sms_locmem.outbox == []


def test_an_opt_out_arriving_between_claim_and_send_still_wins(sms_case, sms_locmem, monkeypatch):
    case = sms_case()
    reminder = Reminder.objects.get(case=case)
    _due(reminder)
    real_hook = services._test_hook

    def stop_arrives(point):
        if point == "after_claim":
            assert Reminder.objects.get(pk=reminder.pk).status == S.SENDING
            services.reminder_inbound_message(msisdn=str(case.subscriber.msisdn), text="СТОП!")
        real_hook(point)

    monkeypatch.setattr(services, "_test_hook", stop_arrives)
    services.reminders_dispatch(budget_seconds=0)
    reminder.refresh_from_db()
    assert reminder.status == S.SKIPPED_OPT_OUT and sms_locmem.outbox == []
    assert Subscriber.objects.get(pk=case.subscriber_id).sms_opt_out


def test_a_due_reminder_is_sent_once_and_its_receipt_marks_it_delivered(sms_case, sms_locmem):
    case = sms_case()
    reminder = Reminder.objects.get(case=case)
    _due(reminder)
    assert services.reminders_dispatch(budget_seconds=0) == 1
    assert services.reminders_dispatch(budget_seconds=0) == 0
    assert [m.reminder_id for m in sms_locmem.outbox] == [reminder.pk]
    reminder.refresh_from_db()
    assert reminder.status == S.SENT and reminder.attempts == 1 and reminder.gateway_message_id
    sms_locmem.pending_receipts.append(Receipt(message_id=reminder.gateway_message_id))
    services.reminders_poll_backend()
    reminder.refresh_from_db()
    assert reminder.status == S.DELIVERED and reminder.delivered_at
    assert _kinds(case)[-2:] == [CaseEvent.Kind.SMS_SENT, CaseEvent.Kind.SMS_DELIVERED]


def test_a_reminder_that_is_not_due_yet_is_left_alone(sms_case, sms_locmem):
    sms_case()
    assert services.reminders_dispatch(budget_seconds=0) == 0
    assert sms_locmem.outbox == []


def test_a_due_reminder_found_at_night_is_moved_to_the_morning_not_sent(sms_case, sms_locmem):
    case = sms_case()
    reminder = Reminder.objects.get(case=case)
    _due(reminder)
    night = datetime(2026, 3, 10, 23, 30, tzinfo=ZoneInfo("Europe/Moscow"))
    Reminder.objects.filter(pk=reminder.pk).update(send_after=night - timedelta(hours=3))
    with time_machine.travel(night, tick=False):
        assert services.reminders_dispatch(budget_seconds=0) == 0
    reminder.refresh_from_db()
    assert reminder.status == S.SCHEDULED and reminder.shifted_by_quiet_hours
    assert reminder.send_after == datetime(2026, 3, 11, 9, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    assert sms_locmem.outbox == []


def test_a_transient_gateway_error_retries_with_backoff_then_fails(sms_case, sms_locmem, settings):
    settings.SMS_MAX_ATTEMPTS = 3
    case = sms_case()
    reminder = Reminder.objects.get(case=case)
    sms_locmem.scripted[reminder.pk] = "retry"
    delays = []
    for _ in range(3):
        _due(reminder)
        before = timezone.now()
        services.reminders_dispatch(budget_seconds=0)
        reminder.refresh_from_db()
        delays.append(round((reminder.send_after - before).total_seconds()))
    assert reminder.status == S.FAILED and reminder.attempts == 3
    assert delays[:2] == [30, 60]  # 30 s, doubling
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.SMS_FAILED).count() == 1


def test_a_permanent_gateway_error_fails_at_once(sms_case, sms_locmem):
    reminder = Reminder.objects.get(case=sms_case())
    sms_locmem.scripted[reminder.pk] = "failed"
    _due(reminder)
    services.reminders_dispatch(budget_seconds=0)
    reminder.refresh_from_db()
    assert reminder.status == S.FAILED and reminder.attempts == 1


def test_an_unknown_outcome_is_never_resent(sms_case, sms_locmem):
    reminder = Reminder.objects.get(case=sms_case())
    sms_locmem.scripted[reminder.pk] = "unknown"
    _due(reminder)
    services.reminders_dispatch(budget_seconds=0)
    _due(reminder)
    services.reminders_dispatch(budget_seconds=0)
    reminder.refresh_from_db()
    assert reminder.status == S.UNKNOWN and len(sms_locmem.outbox) == 1


class _BlindBackend:
    def lookup(self, reference):
        return None


def test_the_reaper_marks_a_stuck_reminder_unknown_when_the_gateway_cannot_tell(sms_case, settings):
    reminder = Reminder.objects.get(case=sms_case())
    _due(reminder)
    assert services.reminders_claim_due() == [reminder]  # the worker then "dies"
    assert services.reminders_reap(backend=_BlindBackend()) == 0  # not stuck long enough yet
    later = timezone.now() + timedelta(seconds=settings.SMS_SENDING_TIMEOUT + 1)
    assert services.reminders_reap(now=later, backend=_BlindBackend()) == 1
    reminder.refresh_from_db()
    assert reminder.status == S.UNKNOWN
    assert services.reminders_dispatch(budget_seconds=0) == 0


def test_the_reaper_requeues_a_stuck_reminder_the_gateway_says_it_never_got(sms_case, settings):
    reminder = Reminder.objects.get(case=sms_case())
    _due(reminder)
    services.reminders_claim_due()
    later = timezone.now() + timedelta(seconds=settings.SMS_SENDING_TIMEOUT + 1)
    assert services.reminders_reap(now=later) == 1  # locmem can tell: nothing went out
    reminder.refresh_from_db()
    assert reminder.status == S.SCHEDULED and reminder.attempts == 1


def test_a_claimed_reminder_cannot_be_cancelled_and_a_cancelled_one_is_not_sent(
    sms_case, specialist, sms_locmem
):
    first, second = sms_case(), sms_case()
    r1, r2 = Reminder.objects.get(case=first), Reminder.objects.get(case=second)
    _due(r1)
    services.reminders_claim_due()
    with pytest.raises(services.ReminderConflict):
        services.reminder_cancel(reminder=r1, actor=specialist)
    services.reminder_cancel(reminder=r2, actor=specialist)
    services.reminder_cancel(reminder=r2, actor=specialist)  # twice is harmless
    _due(r2)
    services.reminders_dispatch(budget_seconds=0)
    assert Reminder.objects.get(pk=r2.pk).status == S.CANCELLED
    assert sms_locmem.outbox == []
    assert CaseEvent.objects.filter(case=second, kind=CaseEvent.Kind.SMS_CANCELLED).count() == 1


def test_a_manual_reminder_with_the_same_request_id_is_made_once(sms_case, specialist):
    case = sms_case()
    kwargs = {"case": case, "text": "Перезвоните на 611.", "send_after": None, "actor": specialist}
    r1, created1 = services.reminder_schedule_manual(request_id="req-1", **kwargs)
    r2, created2 = services.reminder_schedule_manual(request_id="req-1", **kwargs)
    assert (created1, created2) == (True, False) and r1.pk == r2.pk
    with pytest.raises(services.ReminderConflict):
        services.reminder_schedule_manual(**{**kwargs, "text": "Другой текст."}, request_id="req-1")
    assert Reminder.objects.filter(case=case, step=None).count() == 1


def test_a_manual_reminder_with_a_link_or_too_long_is_refused(sms_case, specialist):
    case = sms_case()
    for text in ("Зайдите на gosuslugi.ru", "Я" * 500, "   "):
        with pytest.raises(ValidationError) as exc:
            services.reminder_schedule_manual(
                case=case, text=text, send_after=None, request_id="x", actor=specialist
            )
        assert "text" in exc.value.message_dict
    assert not Reminder.objects.filter(case=case, step=None).exists()


def test_closing_as_no_harm_cancels_what_is_pending_other_outcomes_keep_it(sms_case, specialist):
    kept, cancelled = sms_case(), sms_case()
    for case, outcome in ((kept, "referred_bank"), (cancelled, "no_harm")):
        for step in case.playbook_version.steps.filter(is_required=True):
            case_record_step(case=case, step=step, result=StepOutcome.Result.DONE, actor=specialist)
        case_set_status(case=case, status=Status.CLOSED, actor=specialist, outcome=outcome)
    assert set(Reminder.objects.filter(case=kept).values_list("status", flat=True)) == {S.SCHEDULED}
    assert set(Reminder.objects.filter(case=cancelled).values_list("status", flat=True)) == {
        S.CANCELLED
    }


def test_a_duplicate_closed_at_once_cancels_its_on_open_sms(sms_case, specialist):
    case = sms_case()
    case_set_status(case=case, status=Status.CLOSED, actor=specialist, outcome="duplicate")
    assert Reminder.objects.get(case=case).status == S.CANCELLED


def test_the_case_list_of_reminders_is_one_query(sms_case, specialist, django_assert_num_queries):
    case = sms_case()
    services.reminder_schedule_manual(
        case=case, text="Текст", send_after=None, request_id="a", actor=specialist
    )
    with django_assert_num_queries(1):  # reminders joined with their step and author
        rows = list(reminders_for_case(case_id=case.pk))
        assert {r.get_status_display() for r in rows} == {"Запланировано"}
        assert {r.step.title if r.step else None for r in rows} == {"Успокоить абонента", None}


def test_a_case_opened_without_a_playbook_sms_writes_no_reminder(make_case):
    assert not Reminder.objects.filter(case=make_case()).exists()


def test_an_opened_case_rolls_back_its_reminders_too(sms_category, integration, monkeypatch):
    def boom(*args, **kwargs):
        assert Reminder.objects.exists()  # written, then the transaction fails
        raise RuntimeError("crash after the reminders")

    monkeypatch.setattr(services, "_scheduled_events", boom)
    with pytest.raises(RuntimeError):
        case_open(
            actor=integration, channel="hotline", category=sms_category, phone="+79160000099",
            summary="x",
        )  # fmt: skip
    assert not Reminder.objects.exists()


def test_the_console_backend_prints_the_text_but_not_the_phone_number(sms_case, settings, capsys):
    settings.SMS_BACKEND = "reminders.backends.console.ConsoleBackend"
    case = sms_case(phone="+79161234567")
    _due(Reminder.objects.get(case=case))
    services.reminders_dispatch(budget_seconds=0)
    out = capsys.readouterr().out
    assert "никому не сообщайте коды" in out and "+79161234567" not in out
    assert Reminder.objects.get(case=case).status == S.DELIVERED


def test_receipts_match_by_reference_when_the_gateway_id_is_not_recorded_yet(sms_case):
    reminder = Reminder.objects.get(case=sms_case())
    _due(reminder)
    services.reminders_claim_due()
    services.reminders_record_receipts([Receipt(reference=f"fc-{reminder.pk}")])
    services.reminders_record_results(
        [services.SendResult(reminder.pk, "sent", message_id="G1")],
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    reminder.refresh_from_db()
    assert reminder.status == S.DELIVERED and reminder.gateway_message_id == "G1"


def test_a_person_resolves_an_unknown_reminder_either_way(sms_case, sms_locmem, supervisor):
    first, second = (Reminder.objects.get(case=sms_case()) for _ in range(2))
    for reminder in (first, second):
        sms_locmem.scripted[reminder.pk] = "unknown"
        _due(reminder)
    services.reminders_dispatch(budget_seconds=0)
    services.reminder_resolve_unknown(reminder=first, was_sent=True, actor=supervisor)
    services.reminder_resolve_unknown(reminder=second, was_sent=False, actor=supervisor)
    with pytest.raises(services.ReminderConflict):
        services.reminder_resolve_unknown(reminder=first, was_sent=False, actor=supervisor)
    sms_locmem.scripted.clear()
    services.reminders_dispatch(budget_seconds=0)
    assert Reminder.objects.get(pk=first.pk).status == S.SENT
    assert Reminder.objects.get(pk=second.pk).status == S.SENT
    assert [m.reminder_id for m in sms_locmem.outbox].count(second.pk) == 2  # checked, resent


def test_the_admin_lists_reminders_and_offers_no_edit(admin_client, sms_case):
    sms_case()
    response = admin_client.get("/admin/reminders/reminder/?status__exact=scheduled")
    assert response.status_code == 200 and "Запланировано" in response.content.decode()
