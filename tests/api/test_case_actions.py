"""POST messages, step outcomes and scammer identifiers on a case."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from cases.models import CaseEvent, CaseIdentifier, ChatMessage, StepOutcome
from cases.services import case_assign
from playbooks.models import Step

pytestmark = pytest.mark.django_db

LINE = {"external_id": "msg-1", "author": "subscriber", "text": "Мне звонили из банка",
        "sent_at": "2026-11-24T10:00:00+03:00"}  # fmt: skip


def messages(case) -> str:
    return f"/api/v1/cases/{case.pk}/messages/"


def test_a_chat_line_is_appended_once_whatever_the_retries(chat_backend, make_case):
    case = make_case(actor=User.objects.get(username="chat-backend"), channel="chat")
    first = chat_backend.post(messages(case), LINE, format="json")
    again = chat_backend.post(messages(case), LINE, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert ChatMessage.objects.filter(case=case).count() == 1
    event = CaseEvent.objects.get(case=case, kind="message")
    assert event.actor.username == "chat-backend"


def test_the_chat_backend_may_append_to_a_chat_case_a_specialist_opened(
    chat_backend, make_case, specialist
):
    chat_case = make_case(actor=specialist, channel="chat")
    hotline_case = make_case(actor=specialist, channel="hotline")
    assert chat_backend.post(messages(chat_case), LINE, format="json").status_code == 201
    assert chat_backend.post(messages(hotline_case), LINE, format="json").status_code == 404
    # ... but appending does not let it read the case.
    assert chat_backend.get(f"/api/v1/cases/{chat_case.pk}/").status_code == 404


@pytest.mark.parametrize(
    "field,value",
    [("author", "robot"), ("sent_at", "вчера"), ("text", ""), ("external_id", ""),
     ("external_id", "x" * 129)],
)  # fmt: skip
def test_bad_chat_lines_are_400(api, make_case, field, value):
    case = make_case()
    response = api.post(messages(case), {**LINE, field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert ChatMessage.objects.count() == 0


def test_message_refusals(client, staff_api, manager, nobody, api, make_case):
    case = make_case()
    assert client.post(messages(case), LINE, content_type="application/json").status_code == 401
    assert staff_api(nobody).post(messages(case), LINE, format="json").status_code == 403
    assert staff_api(manager).post(messages(case), LINE, format="json").status_code == 403
    assert api.post("/api/v1/cases/999999/messages/", LINE, format="json").status_code == 404


# --- Steps ------------------------------------------------------------------------------------


def step_url(case, step) -> str:
    return f"/api/v1/cases/{case.pk}/steps/{step.pk}/"


def test_recording_a_step_outcome_and_correcting_it(staff_api, specialist, make_case):
    case = make_case()
    step = case.playbook_version.steps.get(position=1)
    client = staff_api(specialist)
    response = client.post(step_url(case, step), {"result": "done", "note": "ок"}, format="json")
    assert response.status_code == 200
    assert response.json()["result"] == "done"
    client.post(step_url(case, step), {"result": "refused"}, format="json")
    assert StepOutcome.objects.get(case=case, step=step).result == "refused"
    assert CaseEvent.objects.filter(case=case, kind="step", actor=specialist).count() == 2


def test_the_integration_that_opened_the_case_may_record_steps(api, make_case, specialist):
    mine = make_case()
    step = mine.playbook_version.steps.get(position=1)
    assert api.post(step_url(mine, step), {"result": "done"}, format="json").status_code == 200
    other = make_case(actor=specialist)
    assert api.post(step_url(other, step), {"result": "done"}, format="json").status_code == 404


def test_a_step_from_another_playbook_and_unknown_ids_are_404_as_on_the_staff_page(
    staff_api, supervisor, make_case
):
    from playbooks.models import Category, Playbook, PlaybookVersion

    case = make_case()
    cat = Category.objects.create(slug="other", name="Другое")
    pb = Playbook.objects.create(category=cat, slug="other", title="Другое")
    foreign = Step.objects.create(version=PlaybookVersion.objects.create(playbook=pb, number=1),
                                  position=1, title="Чужой шаг")  # fmt: skip
    client = staff_api(supervisor)
    response = client.post(step_url(case, foreign), {"result": "done"}, format="json")
    assert response.status_code == 404
    missing = f"/api/v1/cases/{case.pk}/steps/999999/"
    assert client.post(missing, {"result": "done"}, format="json").status_code == 404
    step = case.playbook_version.steps.first()
    assert client.post(step_url(case, step), {"result": "maybe"}, format="json").status_code == 400


def test_step_refusals(staff_api, specialist, specialist2, supervisor, manager, make_case):
    case = make_case()
    case_assign(case=case, assignee=specialist2, actor=supervisor)
    step = case.playbook_version.steps.first()
    body = {"result": "done"}
    assert staff_api(specialist).post(step_url(case, step), body, format="json").status_code == 403
    assert staff_api(manager).post(step_url(case, step), body, format="json").status_code == 403
    assert StepOutcome.objects.count() == 0


# --- Identifiers ------------------------------------------------------------------------------


def ident_url(case) -> str:
    return f"/api/v1/cases/{case.pk}/identifiers/"


def test_adding_a_scammer_identifier_normalizes_it_and_is_idempotent(api, make_case):
    case = make_case()
    body = {"kind": "link", "value": "https://www.Gosuslugi-help.ru/login/"}
    first = api.post(ident_url(case), body, format="json")
    assert first.status_code == 201
    # Matched by the registrable domain; the exact address stays on the case.
    assert first.json()["value"] == "gosuslugi-help.ru"
    api.post(ident_url(case), body, format="json")
    api.post(ident_url(case), {"kind": "link", "value": "gosuslugi-help.ru"}, format="json")
    assert CaseEvent.objects.filter(case=case, kind="identifier").count() == 1
    assert CaseIdentifier.objects.get(case=case).raw == "https://www.Gosuslugi-help.ru/login/"


@pytest.mark.parametrize(
    "body,field",
    [({"kind": "fax", "value": "1"}, "kind"), ({"kind": "link", "value": "nonsense"}, "value"),
     ({"kind": "link", "value": "000["}, "value"),
     ({"kind": "phone", "value": "12"}, "value"), ({"kind": "phone"}, "value")],
)  # fmt: skip
def test_bad_identifiers_are_400(api, make_case, body, field):
    response = api.post(ident_url(make_case()), body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_identifier_refusals(client, staff_api, manager, api, make_case, specialist):
    case = make_case(actor=specialist)
    body = {"kind": "sender", "value": "BANK"}
    assert client.post(ident_url(case), body, content_type="application/json").status_code == 401
    assert staff_api(manager).post(ident_url(case), body, format="json").status_code == 403
    assert api.post(ident_url(case), body, format="json").status_code == 404
