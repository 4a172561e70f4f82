"""Personal data lifecycle: closed cases past PD_RETENTION_DAYS are anonymised in batches;
identifiers, statistics and report figures stay."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.core import serializers
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from cases import retention
from cases.models import (
    Case,
    CaseEvent,
    CaseIdentifier,
    ChatMessage,
    IdempotencyKey,
    ScammerIdentifier,
    StepOutcome,
    Subscriber,
)
from cases.roles import Role
from cases.serializers import SubscriberSerializer
from cases.services import (
    case_add_identifier,
    case_add_note,
    case_append_message,
    case_record_step,
    case_set_status,
    case_update,
    subscriber_card_accessed,
)
from reminders.models import Reminder
from reports import selectors as report_selectors
from reports.filters import ReportFilter
from tests.reports.conftest import MARCH, dataset  # noqa: F401 - the report data set fixture

NAME = "Алевтина Скрябина"
PHONE = "+79165550123"
# The number as people write it, and its digits: neither may survive anywhere.
PHONE_FORMS = ("79165550123", "9165550123", "916 555")
OLD = timedelta(days=400)


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.PD_RETENTION_DAYS = 365
    settings.PD_ANONYMISE_BATCH = 1000


def _close(case: Case, actor, *, ago: timedelta = OLD) -> Case:
    """Close through the service (steps, outcome, timeline), then move closed_at back."""
    case_set_status(case=case, status="closed", actor=actor, outcome="duplicate",
                    comment=f"Закрыто, абонент {NAME}")  # fmt: skip
    Case.objects.filter(pk=case.pk).update(closed_at=timezone.now() - ago)
    case.refresh_from_db()
    return case


def _full_case(make_case, specialist, *, phone: str = PHONE, name: str = NAME) -> Case:
    """A case with personal data in every place a service writes free text."""
    case = make_case(
        phone=phone,
        subscriber_name=name,
        summary=f"{name} сообщила код, перезвонить на {phone}",
        description=f"Абонент {name}, второй номер 8 916 555-01-23",
    )
    case_update(case=case, actor=specialist, summary=f"Уточнено: {name}, {phone}")
    case_add_note(case=case, actor=specialist, text=f"Перезвонила {name} с {phone}")
    case_append_message(
        case=case, external_id="m1", author="subscriber", text=f"Я {name}, мой номер {phone}",
        sent_at=timezone.now(), actor=specialist,
    )  # fmt: skip
    steps = list(case.playbook_version.steps.order_by("position"))
    case_record_step(case=case, step=steps[0], result="done", actor=specialist,
                     note=f"{name} сообщила код")  # fmt: skip
    case_record_step(case=case, step=steps[1], result="done", actor=specialist)  # schedules SMS
    case_add_identifier(case=case, kind="phone", value="+7 495 111-22-33", actor=specialist)
    case_add_identifier(case=case, kind="sender", value="Bank-Security", actor=specialist)
    Reminder.objects.filter(case=case).update(last_error=f"gateway refused {phone}")
    IdempotencyKey.objects.create(
        owner=specialist, key=f"k-{case.pk}", request_hash="x", state="done", case=case,
        response_status=201, response_body={"subscriber": {"msisdn": phone, "name": name}},
    )  # fmt: skip
    subscriber_card_accessed(subscriber=case.subscriber)
    return case


def _dump(case_ids: list[int], subscriber_ids: list[int]) -> str:
    """Every row the retention touches, plus the whole audit log, as one JSON text."""
    querysets = [
        Case.objects.filter(pk__in=case_ids),
        Subscriber.objects.filter(pk__in=subscriber_ids),
        CaseEvent.objects.filter(case_id__in=case_ids),
        ChatMessage.objects.filter(case_id__in=case_ids),
        StepOutcome.objects.filter(case_id__in=case_ids),
        Reminder.objects.filter(case_id__in=case_ids),
        IdempotencyKey.objects.filter(case_id__in=case_ids),
        LogEntry.objects.all(),
    ]
    return "\n".join(serializers.serialize("json", qs, ensure_ascii=False) for qs in querysets)


def _contains_pii(text: str) -> list[str]:
    needles = [NAME, "Скрябин", "Алевтин", *PHONE_FORMS]
    return [n for n in needles if n in text]


# --- Which cases ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_closed_cases_past_the_retention_are_anonymised(make_case, specialist):
    expired = _close(make_case(), specialist)
    recent = _close(make_case(), specialist, ago=timedelta(days=300))
    still_open = make_case()
    Case.objects.filter(pk=still_open.pk).update(created_at=timezone.now() - timedelta(days=900))
    resolved_long_ago = make_case()
    case_set_status(case=resolved_long_ago, status="resolved", actor=specialist,
                    outcome="duplicate")  # fmt: skip
    Case.objects.filter(pk=resolved_long_ago.pk).update(resolved_at=timezone.now() - OLD)

    result = retention.cases_anonymise_expired()

    assert (result.cases, result.batches) == (1, 1)
    anonymised = set(Case.objects.filter(anonymised_at__isnull=False).values_list("pk", flat=True))
    assert anonymised == {expired.pk}
    assert Case.objects.get(pk=recent.pk).summary == recent.summary


@pytest.mark.django_db
def test_an_already_anonymised_case_is_not_touched_again(make_case, specialist):
    case = _close(make_case(), specialist)
    first = retention.cases_anonymise_expired()
    stamped = Case.objects.get(pk=case.pk).anonymised_at
    second = retention.cases_anonymise_expired()
    assert (first.cases, first.subscribers) == (1, 1)
    assert (second.cases, second.subscribers, second.batches) == (0, 0, 0)
    assert Case.objects.get(pk=case.pk).anonymised_at == stamped


# --- What goes, what stays --------------------------------------------------------------------


@pytest.mark.django_db
def test_no_name_or_number_survives_in_any_affected_row_or_audit_entry(make_case, specialist):
    case = _close(_full_case(make_case, specialist), specialist)
    subscriber = case.subscriber
    before = _dump([case.pk], [subscriber.pk])
    # The check can fail: before the run the data is everywhere.
    assert set(_contains_pii(before)) >= {NAME, "79165550123"}
    assert LogEntry.objects.filter(object_id=subscriber.pk, action=LogEntry.Action.ACCESS)

    retention.cases_anonymise_expired()

    assert _contains_pii(_dump([case.pk], [subscriber.pk])) == []
    case.refresh_from_db()
    assert case.summary == retention.REDACTED and case.description == ""
    assert not CaseEvent.objects.filter(case=case).exclude(text="").exists()
    assert set(ChatMessage.objects.filter(case=case).values_list("text", flat=True)) == {""}
    assert set(StepOutcome.objects.filter(case=case).values_list("note", flat=True)) == {""}
    assert set(Reminder.objects.filter(case=case).values_list("text", "last_error")) == {("", "")}


@pytest.mark.django_db
def test_audit_entries_are_kept_with_who_when_and_what_but_without_values(make_case, specialist):
    case = _close(_full_case(make_case, specialist), specialist)
    entries = LogEntry.objects.filter(
        Q(content_type__model="case", object_id=case.pk)
        | Q(content_type__model="subscriber", object_id=case.subscriber_id)
        | Q(content_type__model="stepoutcome", object_id__in=case.step_outcomes.values("pk"))
    )
    before = {e.pk: (e.action, e.actor_id, e.timestamp, set(e.changes or {})) for e in entries}

    retention.cases_anonymise_expired()

    entries = entries.all()  # not the cached rows
    after = {e.pk: (e.action, e.actor_id, e.timestamp, set(e.changes or {})) for e in entries}
    # case: create, updates; subscriber: create, access; two step outcomes
    assert after == before and len(after) >= 6
    for entry in entries:
        assert entry.object_repr == retention.REDACTED
        assert all(v == [retention.REDACTED] * 2 for v in (entry.changes or {}).values())


@pytest.mark.django_db
def test_figures_identifiers_and_timeline_shape_are_kept(make_case, specialist):
    case = _close(_full_case(make_case, specialist), specialist)
    kept = ("category_id", "channel", "status", "outcome", "priority", "code_disclosed",
            "money_lost", "money_amount", "created_at", "updated_at", "due_at",
            "first_action_at", "resolved_at", "closed_at", "assignee_id", "number")  # fmt: skip
    row = Case.objects.values(*kept).get(pk=case.pk)
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", "actor_id", "created_at"))
    links = list(CaseIdentifier.objects.filter(case=case).values_list("identifier_id", flat=True))
    steps = list(StepOutcome.objects.filter(case=case).values_list("step_id", "result"))
    sms = list(Reminder.objects.filter(case=case).values_list("status", "send_after", "parts"))

    retention.cases_anonymise_expired()

    assert Case.objects.values(*kept).get(pk=case.pk) == row
    assert list(CaseEvent.objects.filter(case=case).values_list("kind", "actor_id",
                                                                "created_at")) == kinds  # fmt: skip
    now_links = CaseIdentifier.objects.filter(case=case).values_list("identifier_id", flat=True)
    assert list(now_links) == links
    assert sorted(ScammerIdentifier.objects.values_list("value", flat=True)) == [
        "+74951112233", "BANK-SECURITY"
    ]  # fmt: skip
    identifier_event = CaseEvent.objects.get(
        case=case, kind="identifier", data__value="+74951112233"
    )
    assert identifier_event.data["identifier_kind"] == "phone"
    assert list(StepOutcome.objects.filter(case=case).values_list("step_id", "result")) == steps
    assert list(Reminder.objects.filter(case=case).values_list("status", "send_after",
                                                                "parts")) == sms  # fmt: skip
    updated = CaseEvent.objects.get(case=case, kind="updated")
    assert updated.data["changes"]["summary"] == [retention.REDACTED] * 2


@pytest.mark.django_db
def test_report_figures_are_identical_before_and_after_anonymisation(
    dataset,  # noqa: F811
    settings,
):
    settings.PD_RETENTION_DAYS = 30  # the data set is March-April 2026
    for case in dataset.cases.values():
        if case.status == "closed":
            Case.objects.filter(pk=case.pk).update(closed_at=case.resolved_at)
    periods = [MARCH, ReportFilter(date_from=MARCH.date_from.replace(month=1),
                                   date_to=MARCH.date_to.replace(month=4, day=30))]  # fmt: skip
    before = [dataclasses.asdict(report_selectors.report_build(p)) for p in periods]

    result = retention.cases_anonymise_expired()

    assert result.cases == 7  # all but the open c3
    # +79161110001 still has the open c3: three of four subscribers are anonymised.
    assert result.subscribers == 3
    after = [dataclasses.asdict(report_selectors.report_build(p)) for p in periods]
    assert after == before
    assert before[0]["summary"]["total"] == 5 and before[0]["top_phones"]


# --- Subscribers ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_subscriber_keeps_name_and_number_until_every_case_is_anonymised(make_case, specialist):
    old = _close(make_case(phone=PHONE, subscriber_name=NAME), specialist)
    current = make_case(phone=PHONE)
    subscriber = old.subscriber
    assert current.subscriber_id == subscriber.pk

    assert retention.cases_anonymise_expired().cases == 1
    subscriber.refresh_from_db()
    assert (str(subscriber.msisdn), subscriber.name, subscriber.anonymised_at) == (
        PHONE,
        NAME,
        None,
    )

    _close(current, specialist, ago=timedelta(days=30))  # closed, not yet expired
    assert retention.cases_anonymise_expired().subscribers == 0
    Case.objects.filter(pk=current.pk).update(closed_at=timezone.now() - OLD)
    result = retention.cases_anonymise_expired()

    assert (result.cases, result.subscribers) == (1, 1)
    subscriber.refresh_from_db()
    assert subscriber.name == "" and subscriber.anonymised_at is not None
    assert str(subscriber.msisdn) == retention.msisdn_placeholder(subscriber.pk)
    assert subscriber.time_zone.key == "Europe/Moscow"


@pytest.mark.django_db
def test_an_anonymised_subscriber_keeps_its_opt_out_and_loads_everywhere(
    make_case, specialist, supervisor, admin_client, client
):
    first = _close(make_case(phone=PHONE, subscriber_name=NAME), specialist)
    second = _close(make_case(phone="+79165550124"), specialist)
    Subscriber.objects.filter(pk=first.subscriber_id).update(sms_opt_out=True)

    retention.cases_anonymise_expired()

    a, b = Subscriber.objects.order_by("pk")
    assert a.sms_opt_out and not b.sms_opt_out
    # Unique and not dialable: the placeholder cannot clash with a real subscriber.
    assert str(a.msisdn) != str(b.msisdn) and str(a.msisdn).startswith("+7000")
    assert not a.msisdn.is_valid()
    assert SubscriberSerializer(a).data["msisdn"] == retention.msisdn_placeholder(a.pk)
    page = admin_client.get(reverse("admin:cases_subscriber_changelist"))
    assert page.status_code == 200 and retention.msisdn_placeholder(a.pk) in page.text
    assert (
        admin_client.get(reverse("admin:cases_subscriber_change", args=[a.pk])).status_code == 200
    )
    client.force_login(supervisor)
    detail = client.get(reverse("api-v1:case-detail", args=[second.pk]))
    assert detail.status_code == 200
    assert detail.json()["subscriber"]["msisdn"] == retention.msisdn_placeholder(b.pk)
    # A new call from the real number makes a new subscriber.
    fresh = make_case(phone=PHONE)
    assert fresh.subscriber_id not in (a.pk, b.pk)


# --- Batches, dry run, the command, the task ---------------------------------------------------


@pytest.mark.django_db
def test_five_cases_in_batches_of_two_take_three_batches(make_case, specialist):
    for _ in range(5):
        _close(make_case(), specialist)
    result = retention.cases_anonymise_expired(batch_size=2)
    assert (result.cases, result.subscribers, result.batches) == (5, 5, 3)
    assert not Case.objects.filter(anonymised_at__isnull=True).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("n", [1, 6])
def test_one_batch_runs_the_same_queries_for_any_number_of_cases(
    make_case, specialist, django_assert_num_queries, n
):
    for i in range(n):
        _close(_full_case(make_case, specialist, phone=f"+7916555{i:04d}"), specialist)
    # savepoint; claim the cases; their subscribers; lock those; cases; event texts; UPDATED
    # events read + 1 write; chat messages; the identifiers found in texts (deleted); step
    # outcome ids; step notes; reminders' texts and errors;
    # idempotency keys; subscribers left with nothing; their update; audit log: read + one
    # write per distinct set of changed fields (case: create, update, status → 3; step
    # outcome: create, update → 2; subscriber: create/access → 1); release. The writes grow
    # with the variety of changes, never with the number of cases.
    with django_assert_num_queries(27):
        done = retention.cases_anonymise_batch(cutoff=retention.retention_cutoff(), batch_size=100)
    assert done == (n, n)


@pytest.mark.django_db
def test_dry_run_counts_and_changes_nothing(make_case, specialist):
    case = _close(_full_case(make_case, specialist), specialist)
    _close(make_case(phone=PHONE), specialist)  # same subscriber, also expired
    make_case(phone="+79165550999")
    before = _dump([case.pk], [case.subscriber_id])

    result = retention.cases_anonymise_expired(dry_run=True)

    assert (result.cases, result.subscribers, result.dry_run) == (2, 1, True)
    assert _dump([case.pk], [case.subscriber_id]) == before
    assert not Case.objects.filter(anonymised_at__isnull=False).exists()


@pytest.mark.django_db
def test_the_command_reports_counts_only(make_case, specialist, capsys):
    for i in range(3):
        _close(make_case(phone=f"+7916555{i:04d}", subscriber_name=NAME), specialist)

    call_command("anonymise_expired", "--dry-run")
    dry = capsys.readouterr().out
    call_command("anonymise_expired", "--batch", "2")
    real = capsys.readouterr().out
    call_command("anonymise_expired")
    again = capsys.readouterr().out

    assert dry.strip() == ("Dry run: 3 case(s) closed more than 365 days ago and 3 "
                           "subscriber(s) would be anonymised. Nothing changed.")  # fmt: skip
    assert real.strip() == ("Anonymised 3 case(s) closed more than 365 days ago and 3 "
                            "subscriber(s) in 2 batch(es).")  # fmt: skip
    assert again.strip().startswith("Anonymised 0 case(s)")
    assert not _contains_pii(dry + real + again)


@pytest.mark.django_db
def test_the_command_refuses_a_batch_of_zero():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--batch"):
        call_command("anonymise_expired", "--batch", "0")


@pytest.mark.django_db
def test_the_beat_task_runs_the_service_and_logs_counts_without_personal_data(
    make_case, specialist, caplog
):
    from cases.tasks import anonymise_expired

    _close(make_case(phone=PHONE, subscriber_name=NAME), specialist)
    with caplog.at_level("INFO"):
        assert anonymise_expired.apply().get() == 1
    text = "\n".join(str(r.msg) for r in caplog.records)
    assert "pd_anonymised_batch" in text and "pd_retention_run" in text
    assert not _contains_pii(text)


def test_the_beat_schedule_runs_the_job_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["cases-anonymise-expired"]
    assert entry["task"] == "cases.tasks.anonymise_expired"
    assert entry["schedule"].hour == {3} and entry["schedule"].minute == {30}


# --- Two runs at once (PostgreSQL) --------------------------------------------------------------


@pytest.fixture
def groups(transactional_db):
    for role in Role:
        Group.objects.get_or_create(name=role)


@pytest.mark.postgres
def test_two_runs_at_once_split_the_work_without_doing_a_case_twice(groups, make_case,
                                                                     specialist):  # fmt: skip
    # 12 subscribers with two cases each: both runs may hit the same subscriber's cases.
    for i in range(24):
        _close(make_case(phone=f"+7916555{i % 12:04d}"), specialist)
    barrier = threading.Barrier(2)
    out: dict[str, object] = {}

    def run(name: str) -> None:
        barrier.wait()
        try:
            out[name] = retention.cases_anonymise_expired(batch_size=3)
        except Exception as exc:  # noqa: BLE001 - a deadlock or error is the result
            out[name] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)

    a, b = out["a"], out["b"]
    assert isinstance(a, retention.RetentionResult), a
    assert isinstance(b, retention.RetentionResult), b
    assert a.cases + b.cases == 24  # each case counted by exactly one run
    assert a.subscribers + b.subscribers == 12  # and every subscriber, once
    assert not Case.objects.filter(anonymised_at__isnull=True).exists()
    assert not Subscriber.objects.filter(anonymised_at__isnull=True).exists()


# --- Settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [("PD_RETENTION_DAYS", "0"), ("PD_RETENTION_DAYS", "-30"), ("PD_ANONYMISE_BATCH", "0")],
)
def test_the_app_refuses_to_start_with_a_retention_setting_that_is_not_positive(name, value):
    from tests.test_settings_and_health import _django_check

    res = _django_check({name: value})
    assert res.returncode != 0 and f"{name} must be > 0" in res.stderr


def test_the_app_starts_with_a_positive_retention():
    from tests.test_settings_and_health import _django_check

    res = _django_check({"PD_RETENTION_DAYS": "30", "PD_ANONYMISE_BATCH": "50"})
    assert res.returncode == 0, res.stderr


@pytest.mark.django_db
def test_an_anonymised_case_cannot_be_reopened(make_case, specialist):
    from django.core.exceptions import ValidationError

    case = _close(make_case(), specialist)
    retention.cases_anonymise_expired()
    with pytest.raises(ValidationError, match="обезличено"):
        case_set_status(case=case, status="in_progress", actor=specialist)
    assert Case.objects.get(pk=case.pk).status == "closed"


@pytest.mark.django_db
def test_a_reminder_still_waiting_to_go_keeps_its_text(make_case, specialist):
    case = _close(make_case(), specialist)
    waiting = Reminder.objects.create(
        case=case, subscriber=case.subscriber, text="Проверьте вход в Госуслуги.",
        send_after=timezone.now(), dedupe_key="waiting", last_error="timeout",
    )  # fmt: skip
    retention.cases_anonymise_expired()
    waiting.refresh_from_db()
    assert (waiting.text, waiting.last_error) == ("Проверьте вход в Госуслуги.", "")
