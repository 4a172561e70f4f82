"""The divergences found between the staff pages and the API, each proven gone: one access
module, the rules in the services, a version on every write."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from cases.models import Case, CaseEvent, StepOutcome, Subscriber
from cases.services import case_assign, case_set_status
from reminders.models import Reminder
from reminders.services import reminder_schedule_manual
from tests.api.conftest import token_client
from tests.conftest import _user

pytestmark = pytest.mark.django_db


@pytest.fixture
def my_case(make_case, specialist):
    return case_assign(case=make_case(), assignee=specialist, actor=specialist)


def _version(case: Case) -> int:
    return Case.objects.values_list("version", flat=True).get(pk=case.pk)


def _step(case: Case):
    return case.playbook_version.steps.get(position=1)


def test_an_integration_cannot_read_the_sms_of_a_case_another_integration_opened(
    make_case, specialist
):
    other_line = _user("chat-backend", "integration")
    case = make_case()  # opened by the telephony integration
    reminder_schedule_manual(
        case=case, text="Никому не сообщайте коды.", send_after=None,
        request_id=str(uuid.uuid4()), actor=specialist,
    )  # fmt: skip
    client = token_client(other_line)
    assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 404
    response = client.get(f"/api/v1/cases/{case.pk}/reminders/")
    assert response.status_code == 404 and "коды" not in response.content.decode()
    # The integration that opened it still reads them.
    owner = token_client(case.created_by)
    assert owner.get(f"/api/v1/cases/{case.pk}/reminders/").status_code == 200


def test_a_step_on_a_closed_case_is_refused_by_the_api_as_on_the_page(client, specialist, my_case):
    case_set_status(case=my_case, status="closed", outcome="duplicate", actor=specialist)
    api = APIClient()
    api.force_login(specialist)
    url = f"/api/v1/cases/{my_case.pk}/steps/{_step(my_case).pk}/"
    response = api.post(url, {"result": "done"}, format="json")
    assert response.status_code == 400
    assert "Обращение закрыто" in str(response.json())
    client.force_login(specialist)
    page = client.post(
        reverse("cases:step", args=[my_case.pk, _step(my_case).pk]),
        {"result": "done", "version": _version(my_case)},
    )
    assert page.status_code == 422 and "Обращение закрыто" in page.content.decode()
    assert not StepOutcome.objects.exists()
    assert (
        not Reminder.objects.filter(case=my_case, step__isnull=False)
        .exclude(status=Reminder.Status.CANCELLED)
        .exists()
    )


def test_no_sms_row_for_an_opted_out_subscriber_through_the_api_either(specialist, my_case):
    Subscriber.objects.filter(pk=my_case.subscriber_id).update(sms_opt_out=True)
    api = APIClient()
    api.force_login(specialist)
    response = api.post(
        f"/api/v1/cases/{my_case.pk}/reminders/",
        {"text": "Никому не сообщайте коды.", "request_id": "r-1"},
        format="json",
    )
    assert response.status_code == 400
    assert "СТОП" in str(response.json())
    assert not Reminder.objects.filter(case=my_case, created_by=specialist).exists()


def test_the_second_specialist_on_a_step_gets_a_conflict_and_the_first_outcome_stays(
    client, specialist, supervisor, my_case
):
    seen = _version(my_case)  # both pages were loaded at this version
    step = _step(my_case)
    url = reverse("cases:step", args=[my_case.pk, step.pk])
    client.force_login(specialist)
    assert client.post(url, {"result": "done", "version": seen}).status_code == 302
    client.force_login(supervisor)
    response = client.post(
        url,
        {"result": "not_applicable", "note": "мой комментарий", "version": seen},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert "обращение изменил другой сотрудник" in html
    assert 'value="мой комментарий"' in html  # what B typed is kept
    assert f'value="{_version(my_case)}" class="case-version" hx-swap-oob' in html
    assert StepOutcome.objects.get(case=my_case, step=step).result == "done"


def test_a_stale_if_match_is_412_for_steps_notes_identifiers_and_sms(specialist, my_case):
    api = APIClient()
    api.force_login(specialist)
    stale = str(_version(my_case))
    base = f"/api/v1/cases/{my_case.pk}/"
    assert api.post(base + "notes/", {"text": "первая"}, format="json").status_code == 201
    writes = [
        (f"steps/{_step(my_case).pk}/", {"result": "done"}),
        ("notes/", {"text": "вторая"}),
        ("identifiers/", {"kind": "phone", "value": "+74951112233"}),
        ("reminders/", {"text": "Коды никому.", "request_id": "r-2"}),
    ]
    for path, body in writes:
        response = api.post(base + path, body, format="json", HTTP_IF_MATCH=stale)
        assert response.status_code == 412, path
        assert response["ETag"] == f'"{_version(my_case)}"'
    assert CaseEvent.objects.filter(case=my_case, kind="note").count() == 1
    assert not StepOutcome.objects.exists() and not my_case.identifiers.exists()


def test_a_stale_note_or_identifier_on_the_page_keeps_the_typed_text(client, specialist, my_case):
    seen = _version(my_case)
    client.force_login(specialist)
    client.post(reverse("cases:note", args=[my_case.pk]), {"text": "первая", "version": seen})
    note = client.post(
        reverse("cases:note", args=[my_case.pk]), {"text": "моя заметка", "version": seen}
    )
    assert note.status_code == 409 and "моя заметка</textarea>" in note.content.decode()
    ident = client.post(
        reverse("cases:identifier", args=[my_case.pk]),
        {"kind": "link", "value": "gosuslugi-help.ru", "version": seen},
    )
    assert ident.status_code == 409 and 'value="gosuslugi-help.ru"' in ident.content.decode()
    assert CaseEvent.objects.filter(case=my_case, kind="note").count() == 1


def test_retrying_an_sms_request_after_it_got_through_replays_it_despite_the_new_version(
    specialist, my_case
):
    api = APIClient()
    api.force_login(specialist)
    url = f"/api/v1/cases/{my_case.pk}/reminders/"
    body = {"text": "Коды никому.", "request_id": "r-3"}
    seen = str(_version(my_case))
    first = api.post(url, body, format="json", HTTP_IF_MATCH=seen)
    again = api.post(url, body, format="json", HTTP_IF_MATCH=seen)
    assert (first.status_code, again.status_code) == (201, 200)
    assert Reminder.objects.filter(case=my_case, created_by=specialist).count() == 1


def test_closing_needs_an_outcome_and_the_service_says_so_on_both_ways(client, specialist, my_case):
    client.force_login(specialist)
    page = client.post(
        reverse("cases:status", args=[my_case.pk]),
        {"status": "closed", "version": _version(my_case)},
    )
    assert page.status_code == 400 and "Укажите итог обращения." in page.content.decode()
    api = APIClient()
    api.force_login(specialist)
    response = api.patch(f"/api/v1/cases/{my_case.pk}/", {"status": "closed"}, format="json")
    assert response.status_code == 400 and response.json() == {
        "outcome": ["Укажите итог обращения."]
    }


def test_a_10000_character_step_comment_says_what_is_too_long_and_stays(
    client, specialist, my_case
):
    """Was «Выберите результат шага.» with the comment gone."""
    step = my_case.playbook_version.steps.first()
    client.force_login(specialist)
    typed = "Абонент рассказал подробно. " * 360  # ~10,000 characters
    response = client.post(
        reverse("cases:step", args=[my_case.pk, step.pk]),
        {"result": "done", "note": typed, "version": _version(my_case)},
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "2000" in html and "Выберите результат шага." not in html
    assert typed.strip() in html
    assert not StepOutcome.objects.filter(case=my_case).exists()


def test_a_stale_status_change_keeps_the_comment_and_points_back_to_the_case(
    client, specialist, my_case
):
    stale = _version(my_case)
    case_set_status(case=my_case, status="waiting", actor=specialist)
    client.force_login(specialist)
    response = client.post(
        reverse("cases:status", args=[my_case.pk]),
        {
            "status": "closed",
            "outcome": "referred_bank",
            "comment": "Передали в банк",
            "version": stale,
        },
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert "Передали в банк" in html
    # static/js/app.js puts the address bar back to the case page from this attribute.
    assert f'data-canonical-url="/cases/{my_case.pk}/"' in html
