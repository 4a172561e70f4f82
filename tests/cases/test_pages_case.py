"""The case page: checklist, steps in place, notes, identifiers, status, conflicts, access."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from cases.models import Case, CaseEvent, StaffProfile, StepOutcome
from cases.services import case_add_identifier, case_add_note, case_assign, case_record_step
from playbooks.models import Step
from reminders.models import Reminder
from reminders.services import reminder_schedule_manual

pytestmark = pytest.mark.django_db


@pytest.fixture
def my_case(make_case, specialist):
    case = make_case()
    return case_assign(case=case, assignee=specialist, actor=specialist)


def _steps(case):
    return list(Step.objects.filter(version_id=case.playbook_version_id).order_by("position"))


def test_the_page_shows_the_header_checklist_and_times_in_the_specialists_zone(
    client, specialist, my_case
):
    StaffProfile.objects.create(user=specialist, time_zone="Asia/Vladivostok")
    client.force_login(specialist)
    html = client.get(reverse("cases:detail", args=[my_case.pk])).content.decode()
    assert my_case.number in html and "Новое" in html and "осталось" in html
    assert "по вашему времени" in html and "Владивосток" in html
    assert "у абонента сейчас" in html
    assert "Выяснить, что сообщил абонент" in html and "Рассказать о самозапрете" in html
    # Only the allowed transitions are offered.
    status_select = html[
        html.index('name="status"') : html.index("</select>", html.index('name="status"'))
    ]
    assert 'value="in_progress"' in status_select and 'value="new"' not in status_select


def test_the_staff_profile_is_created_on_the_first_visit(client, specialist, my_case):
    client.force_login(specialist)
    client.get(reverse("cases:detail", args=[my_case.pk]))
    assert StaffProfile.objects.get(user=specialist).time_zone.key == "Europe/Moscow"


def test_a_step_is_recorded_in_place_and_the_forms_get_the_new_version(client, specialist, my_case):
    step = _steps(my_case)[0]
    client.force_login(specialist)
    response = client.post(
        reverse("cases:step", args=[my_case.pk, step.pk]),
        {"result": "done", "note": "Сообщил код", "version": my_case.version},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<li class="step recorded result-done"')
    my_case.refresh_from_db()
    assert f'value="{my_case.version}" class="case-version" hx-swap-oob' in html
    assert 'id="timeline" hx-swap-oob="true"' in html and "Выполнено" in html
    assert html.count(f"«{step.title}»") == 1  # the new event in the timeline
    assert StepOutcome.objects.get(case=my_case, step=step).note == "Сообщил код"
    # Corrected: the same row again, with the version after this write and both events.
    response = client.post(
        reverse("cases:step", args=[my_case.pk, step.pk]),
        {"result": "not_applicable", "note": "", "version": my_case.version},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<li class="step recorded result-not_applicable"')
    assert f'value="{my_case.version + 1}" class="case-version" hx-swap-oob' in html
    assert html.count(f"«{step.title}»") == 2


def test_a_step_without_javascript_is_recorded_and_the_page_reloads(client, specialist, my_case):
    step = _steps(my_case)[0]
    client.force_login(specialist)
    response = client.post(
        reverse("cases:step", args=[my_case.pk, step.pk]),
        {"result": "done", "version": my_case.version},
    )
    assert response.status_code == 302
    assert StepOutcome.objects.filter(case=my_case, step=step).exists()


def test_an_unknown_step_result_is_refused_and_nothing_is_recorded(client, specialist, my_case):
    step = _steps(my_case)[0]
    client.force_login(specialist)
    response = client.post(
        reverse("cases:step", args=[my_case.pk, step.pk]),
        {"result": "maybe", "version": my_case.version},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422 and "Выберите результат шага." in response.content.decode()
    assert not StepOutcome.objects.exists()


def test_a_step_from_another_playbook_is_not_found(client, specialist, my_case, supervisor):
    client.force_login(specialist)
    response = client.post(reverse("cases:step", args=[my_case.pk, 999999]), {"result": "done"})
    assert response.status_code == 404


def test_notes_are_added_and_an_empty_note_is_refused(client, specialist, my_case):
    client.force_login(specialist)
    url = reverse("cases:note", args=[my_case.pk])
    data = {"text": "Перезвонить после 18:00", "version": my_case.version}
    assert client.post(url, data).status_code == 302
    assert CaseEvent.objects.filter(case=my_case, kind="note").get().text == (
        "Перезвонить после 18:00"
    )
    response = client.post(url, {"text": "   ", "version": my_case.version + 1})
    assert response.status_code == 400 and "Заметка пуста." in response.content.decode()


@pytest.mark.parametrize("n", [1, 30])
def test_a_note_is_written_in_place_and_a_refused_one_keeps_its_text(
    client, specialist, my_case, n, django_assert_num_queries
):
    """htmx: the answer is the note box (empty), the new version and the timeline out of
    band, not a redirect to the whole page; a refusal keeps what was typed, says why, and
    carries the current version and timeline (someone else's write may be why)."""
    StaffProfile.objects.create(user=specialist)
    for i in range(n):
        case_add_note(case=my_case, actor=specialist, text=f"заметка {i}")
    my_case.refresh_from_db()
    client.force_login(specialist)
    url = reverse("cases:note", args=[my_case.pk])
    seen = my_case.version
    # session, the user with its roles and zone; the case (access); savepoint (BEGIN in
    # production), the case locked, its version moved on, the note's event, release
    # (COMMIT); the timeline.
    with django_assert_num_queries(9):
        response = client.post(
            url, {"text": "Перезвонить после 18:00", "version": seen}, HTTP_HX_REQUEST="true"
        )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert '<section class="card" id="note">' in html and "></textarea>" in html
    assert f'name="version" value="{seen + 1}" class="case-version" hx-swap-oob' in html
    assert 'id="timeline" hx-swap-oob="true"' in html and "Перезвонить после 18:00" in html
    stale = client.post(url, {"text": "моя заметка", "version": seen}, HTTP_HX_REQUEST="true")
    html = stale.content.decode()
    assert stale.status_code == 409 and "моя заметка</textarea>" in html
    assert "Пока вы смотрели страницу" in html
    assert f'name="version" value="{seen + 1}" class="case-version" hx-swap-oob' in html
    empty = client.post(url, {"text": "  ", "version": seen + 1}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 422 and "Заметка пуста." in empty.content.decode()
    assert CaseEvent.objects.filter(case=my_case, kind="note").count() == n + 1


def test_an_identifier_links_to_the_other_cases_that_reported_it(
    client, specialist, my_case, make_case, integration
):
    other = make_case()
    case_add_identifier(case=other, kind="phone", value="+7 495 111-22-33", actor=integration)
    client.force_login(specialist)
    response = client.post(
        reverse("cases:identifier", args=[my_case.pk]),
        {"kind": "phone", "value": "84951112233", "version": my_case.version},
    )
    assert response.status_code == 302
    html = client.get(reverse("cases:detail", args=[my_case.pk])).content.decode()
    identifier = my_case.identifiers.get()
    assert f"/cases/?identifier={identifier.pk}" in html and "встречается ещё в 1 обращении" in html
    listing = client.get(reverse("cases:list"), {"identifier": identifier.pk}).content.decode()
    assert other.number in listing and my_case.number in listing


def test_a_bad_identifier_gets_a_russian_message(client, specialist, my_case):
    client.force_login(specialist)
    response = client.post(
        reverse("cases:identifier", args=[my_case.pk]),
        {"kind": "link", "value": "нет", "version": my_case.version},
    )
    assert response.status_code == 400 and "Ссылка указана неверно." in response.content.decode()


def test_closing_with_required_steps_open_is_refused_and_says_which(client, specialist, my_case):
    client.force_login(specialist)
    response = client.post(
        reverse("cases:status", args=[my_case.pk]),
        {"version": my_case.version, "status": "closed", "outcome": "no_harm"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Не выполнены обязательные шаги" in html and "Завершить сеансы" in html
    assert Case.objects.get(pk=my_case.pk).status == "new"


def test_closing_asks_for_the_outcome(client, specialist, my_case):
    client.force_login(specialist)
    response = client.post(
        reverse("cases:status", args=[my_case.pk]), {"version": my_case.version, "status": "closed"}
    )
    assert response.status_code == 400 and "Укажите итог обращения." in response.content.decode()


def test_a_case_closes_with_its_outcome_once_the_required_steps_are_done(
    client, specialist, my_case
):
    for step in _steps(my_case)[:2]:
        case_record_step(case=my_case, step=step, result="done", actor=specialist)
    my_case.refresh_from_db()
    client.force_login(specialist)
    response = client.post(
        reverse("cases:status", args=[my_case.pk]),
        {"version": my_case.version, "status": "closed", "outcome": "referred_gosuslugi"},
    )
    assert response.status_code == 302
    case = Case.objects.get(pk=my_case.pk)
    assert (case.status, case.outcome) == ("closed", "referred_gosuslugi")


def test_a_transition_the_workflow_does_not_allow_is_refused(client, specialist, my_case):
    client.force_login(specialist)
    response = client.post(
        reverse("cases:status", args=[my_case.pk]), {"version": my_case.version, "status": "new"}
    )
    assert response.status_code == 400
    assert Case.objects.get(pk=my_case.pk).version == my_case.version


def test_the_second_editor_gets_a_conflict_message_and_nothing_is_overwritten(
    client, specialist, supervisor, my_case
):
    stale_version = my_case.version
    # Someone else changed the case after this page was loaded.
    case_add_note(case=my_case, actor=supervisor, text="Абонент перезвонил")
    client.force_login(specialist)
    response = client.post(
        reverse("cases:status", args=[my_case.pk]),
        {"version": stale_version, "status": "waiting"},
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert "обращение изменил другой сотрудник" in html and "Абонент перезвонил" in html
    assert Case.objects.get(pk=my_case.pk).status == "new"


def test_a_manager_sees_the_case_without_any_form_and_every_write_is_refused(
    client, manager, my_case
):
    client.force_login(manager)
    html = client.get(reverse("cases:detail", args=[my_case.pk])).content.decode()
    main = html.split("<main>")[1]
    assert my_case.number in main and "<form" not in main
    step = _steps(my_case)[0]
    writes = [
        (reverse("cases:step", args=[my_case.pk, step.pk]), {"result": "done"}),
        (reverse("cases:note", args=[my_case.pk]), {"text": "x"}),
        (
            reverse("cases:identifier", args=[my_case.pk]),
            {"kind": "phone", "value": "+74951112233"},
        ),
        (reverse("cases:status", args=[my_case.pk]), {"version": 1, "status": "waiting"}),
        (reverse("cases:take", args=[my_case.pk]), {"version": 1}),
    ]
    for url, data in writes:
        assert client.post(url, data).status_code == 403, url
    assert not CaseEvent.objects.filter(case=my_case, actor=manager).exists()


def test_another_specialists_case_is_read_only_for_a_specialist(client, specialist2, my_case):
    client.force_login(specialist2)
    html = client.get(reverse("cases:detail", args=[my_case.pk])).content.decode()
    assert "<form" not in html.split("<main>")[1]
    response = client.post(reverse("cases:note", args=[my_case.pk]), {"text": "чужое"})
    assert response.status_code == 403


def test_a_specialist_takes_an_unassigned_case(client, specialist, make_case):
    case = make_case()
    client.force_login(specialist)
    html = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "Взять в работу" in html
    client.post(reverse("cases:take", args=[case.pk]), {"version": case.version})
    assert Case.objects.get(pk=case.pk).assignee == specialist


def test_a_missing_case_is_404(client, specialist):
    client.force_login(specialist)
    assert client.get(reverse("cases:detail", args=[424242])).status_code == 404


@pytest.mark.parametrize("n", [1, 30])
def test_the_case_page_runs_the_same_queries_for_any_history(
    client, specialist, my_case, make_case, integration, n, django_assert_num_queries
):
    StaffProfile.objects.create(user=specialist)
    for i in range(n):
        case_add_note(case=my_case, actor=specialist, text=f"заметка {i}")
        case_add_identifier(
            case=my_case, kind="phone", value=f"+7495{1000000 + i}", actor=specialist
        )
        reminder, _ = reminder_schedule_manual(
            case=my_case, text=f"SMS {i}", send_after=None, request_id=f"r{i}", actor=specialist
        )
        if i % 2:
            Reminder.objects.filter(pk=reminder.pk).update(
                status="failed", attempts=3, last_error="gateway down"
            )
    for step in _steps(my_case):
        case_record_step(case=my_case, step=step, result="done", actor=specialist)
    client.force_login(specialist)
    # session, the user with its roles, model permissions and time zone (one query:
    # cases.roles); the case with subscriber/category/assignee/creator/playbook; prefetches:
    # events+actors, step outcomes+actors, chat messages; identifiers with "seen in" counts;
    # the case's SMS reminders with creator and step; the calls it was opened from (a
    # prefetch); the identifiers found in its texts (a prefetch).
    # (The pinned version's steps were read once for the process when the case was opened.)
    with django_assert_num_queries(10):
        response = client.get(reverse("cases:detail", args=[my_case.pk]))
    assert response.status_code == 200
    # n manual SMS plus whatever the playbook's steps scheduled: all listed.
    shown = response.content.decode().count('class="reminder sms-')
    assert shown == Reminder.objects.filter(case=my_case).count() >= n


@pytest.mark.parametrize("n", [1, 30])
def test_recording_a_step_runs_the_same_queries_for_any_history(
    client, specialist, my_case, n, django_assert_num_queries
):
    StaffProfile.objects.create(user=specialist)
    for i in range(n):
        case_add_note(case=my_case, actor=specialist, text=f"заметка {i}")
    step = _steps(my_case)[0]
    client.force_login(specialist)
    ContentType.objects.get_for_model(StepOutcome)  # auditlog's, cached for the process
    my_case.refresh_from_db()
    # 1 session, 2 the user with its roles, permissions and time zone (one query: cases.roles)
    # 3 the case (access; the write does not need the page's prefetches; the step is one of
    # its version's, read once for the process: playbooks.selectors)
    # 4 savepoint (the test's transaction; BEGIN in production), 5 the case locked,
    # 6 the outcome looked up, 7 inserted, 8 its audit entry (the case's own save changes
    # only the version: auditlog's read of the old row is skipped), 9 the case's version,
    # 10 the timeline event, 11 release (COMMIT)
    # the answer, from the locked case and the outcome the write returned: 12 the timeline
    with django_assert_num_queries(12):
        response = client.post(
            reverse("cases:step", args=[my_case.pk, step.pk]),
            {"result": "done", "version": my_case.version},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200


def test_the_steps_of_a_closed_case_cannot_be_changed(client, specialist, my_case):
    from cases.services import case_set_status

    case_set_status(case=my_case, status="closed", outcome="duplicate", actor=specialist)
    step = _steps(my_case)[0]
    client.force_login(specialist)
    html = client.get(reverse("cases:detail", args=[my_case.pk])).content.decode()
    assert "step-form" not in html
    my_case.refresh_from_db()
    response = client.post(
        reverse("cases:step", args=[my_case.pk, step.pk]),
        {"result": "done", "version": my_case.version},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422 and "Обращение закрыто" in response.content.decode()
    assert not StepOutcome.objects.exists()


def test_a_case_whose_creator_account_is_gone_still_opens(client, specialist, make_case):
    """created_by is SET_NULL: a deleted integration's cases (found by bench-day: a 500)."""
    case = make_case()
    Case.objects.filter(pk=case.pk).update(created_by=None)
    client.force_login(specialist)
    assert client.get(f"/cases/{case.pk}/").status_code == 200
