"""GET and PATCH /api/v1/cases/{id}/."""

from __future__ import annotations

import pytest

from cases.models import Case, CaseEvent
from cases.services import (
    case_add_identifier,
    case_add_note,
    case_append_message,
    case_assign,
    case_record_step,
)
from reminders.models import Reminder

pytestmark = pytest.mark.django_db


def url(case) -> str:
    return f"/api/v1/cases/{case.pk}/"


def test_detail_has_timeline_steps_outcomes_identifiers_messages_and_reminders(
    staff_api, supervisor, make_case
):
    from django.utils import timezone

    case = make_case()
    step = case.playbook_version.steps.get(position=1)
    case_record_step(case=case, step=step, result="done", actor=supervisor)
    case_add_identifier(case=case, kind="phone", value="+7 495 000-00-01", actor=supervisor)
    case_append_message(case=case, external_id="m1", author="subscriber", text="Здравствуйте",
                        sent_at=timezone.now(), actor=supervisor)  # fmt: skip
    Reminder.objects.create(case=case, subscriber=case.subscriber, text="Напоминание",
                            send_after=timezone.now(), dedupe_key="r1")  # fmt: skip
    case.refresh_from_db()
    response = staff_api(supervisor).get(url(case))
    assert response.status_code == 200
    assert response["ETag"] == f'"{case.version}"'
    data = response.json()
    assert [e["kind"] for e in data["timeline"]] == ["created", "step", "identifier", "message"]
    steps = data["playbook"]["steps"]
    assert [s["position"] for s in steps] == [1, 2, 3]
    assert steps[0]["outcome"]["result"] == "done"
    assert steps[1]["outcome"] is None
    assert data["identifiers"] == [
        {**data["identifiers"][0], "kind": "phone", "value": "+74950000001", "case_count": 1}
    ]
    assert data["messages"][0]["text"] == "Здравствуйте"
    assert data["reminders"][0]["text"] == "Напоминание"
    assert data["version"] == case.version


def test_unknown_case_is_404(staff_api, specialist):
    assert staff_api(specialist).get("/api/v1/cases/999999/").status_code == 404


def test_an_integration_sees_only_its_own_cases(api, chat_backend, make_case, specialist):
    mine = make_case()
    other = make_case(actor=specialist)
    assert api.get(url(mine)).status_code == 200
    assert api.get(url(other)).status_code == 404
    assert chat_backend.get(url(mine)).status_code == 404


def test_refusals(client, staff_api, nobody, make_case):
    case = make_case()
    assert client.get(url(case)).status_code == 401
    assert staff_api(nobody).get(url(case)).status_code == 403


@pytest.mark.parametrize("n", [1, 20])
def test_detail_runs_the_same_queries_for_any_timeline(
    staff_api, supervisor, make_case, n, django_assert_num_queries
):
    case = make_case()
    for i in range(n):
        case_add_note(case=case, actor=supervisor, text=f"Заметка {i}")
    client = staff_api(supervisor)
    # session, the user with its roles (one query: cases.roles), the case with its joins,
    # events+actors, step outcomes+actors, messages, reminders, identifiers with their case
    # counts (the pinned version's steps were read once for the process when the case was
    # opened: playbooks.selectors).
    # (+1: the calls the case was opened from, a prefetch of for_detail)
    # (+1: the identifiers found in its texts, not yet added: a prefetch of for_detail)
    with django_assert_num_queries(10):
        assert client.get(url(case)).status_code == 200


# --- PATCH ------------------------------------------------------------------------------------


def patch(client, case, body, version=None, **headers):
    if version is not None:
        headers["HTTP_IF_MATCH"] = str(version)
    return client.patch(url(case), body, format="json", **headers)


def test_a_supervisor_changes_priority_category_and_assignee_in_one_request(
    staff_api, supervisor, specialist, make_case, integration
):
    from playbooks.models import Category

    other = Category.objects.create(slug="bank", name="Банк")
    case = make_case()
    response = patch(staff_api(supervisor), case,
                     {"priority": 1, "category": "bank", "assignee": specialist.pk},
                     version=case.version)  # fmt: skip
    assert response.status_code == 200, response.json()
    case.refresh_from_db()
    assert (case.priority, case.category, case.assignee) == (1, other, specialist)
    assert response["ETag"] == f'"{case.version}"'
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", "actor"))
    assert kinds == [("created", integration.pk), ("updated", supervisor.pk),
                     ("assigned", supervisor.pk)]  # fmt: skip


def test_a_stale_version_is_412_and_changes_nothing(staff_api, supervisor, make_case):
    case = make_case()
    client = staff_api(supervisor)
    assert patch(client, case, {"priority": 1}, version=case.version).status_code == 200
    response = patch(client, case, {"priority": 3}, version=case.version)
    assert response.status_code == 412
    assert response.json()["current_version"] == case.version + 1
    assert Case.objects.get(pk=case.pk).priority == 1


@pytest.mark.parametrize("header", ['"{v}"', 'W/"{v}"', "{v}"])
def test_if_match_accepts_the_etag_forms(staff_api, supervisor, make_case, header):
    case = make_case()
    response = patch(staff_api(supervisor), case, {"priority": 1},
                     HTTP_IF_MATCH=header.format(v=case.version))  # fmt: skip
    assert response.status_code == 200


def test_a_malformed_if_match_is_400(staff_api, supervisor, make_case):
    case = make_case()
    response = patch(staff_api(supervisor), case, {"priority": 1}, HTTP_IF_MATCH="yesterday")
    assert response.status_code == 400


def test_resolving_needs_an_outcome_and_the_required_steps(staff_api, supervisor, make_case):
    case = make_case()
    client = staff_api(supervisor)
    response = patch(client, case, {"status": "resolved"})
    assert response.status_code == 400
    assert "outcome" in response.json()
    response = patch(client, case, {"status": "resolved", "outcome": "no_harm"})
    assert response.status_code == 400
    assert "status" in response.json()
    for step in case.playbook_version.steps.filter(is_required=True):
        case_record_step(case=case, step=step, result="done", actor=supervisor)
    response = patch(client, case, {"status": "resolved", "outcome": "no_harm"})
    assert response.status_code == 200
    assert response.json()["status"] == "resolved"


def test_a_refusal_in_the_last_part_leaves_the_first_parts_unsaved(
    staff_api, supervisor, make_case
):
    case = make_case()
    before = (case.priority, case.version)
    response = patch(staff_api(supervisor), case, {"priority": 1, "status": "resolved"})
    assert response.status_code == 400
    case.refresh_from_db()
    assert (case.priority, case.version) == before
    assert before[0] != 1


@pytest.mark.parametrize(
    "body",
    [{}, {"status": "bogus"}, {"priority": 9}, {"category": "nope"}, {"assignee": 999999},
     {"outcome": "bogus"}, {"summary": ""}],
)  # fmt: skip
def test_bad_patch_input_is_400(staff_api, supervisor, make_case, body):
    case = make_case()
    assert patch(staff_api(supervisor), case, body).status_code == 400


def test_who_may_patch(staff_api, api, specialist, specialist2, supervisor, manager, make_case):
    case = make_case()
    case_assign(case=case, assignee=specialist2, actor=supervisor)
    assert patch(staff_api(specialist), case, {"priority": 1}).status_code == 403
    assert patch(staff_api(manager), case, {"priority": 1}).status_code == 403
    assert patch(api, case, {"priority": 1}).status_code == 403
    assert patch(staff_api(specialist2), case, {"priority": 1}).status_code == 200


def test_a_specialist_may_take_a_free_case_but_not_hand_it_to_someone(
    staff_api, specialist, specialist2, make_case
):
    case = make_case()
    client = staff_api(specialist)
    assert patch(client, case, {"assignee": specialist2.pk}).status_code == 403
    assert patch(client, case, {"assignee": specialist.pk}).status_code == 200


def test_assigning_a_non_specialist_is_400(staff_api, supervisor, manager, make_case):
    case = make_case()
    response = patch(staff_api(supervisor), case, {"assignee": manager.pk})
    assert response.status_code == 400
    assert "assignee" in response.json()


def test_patching_an_unknown_case_is_404(staff_api, supervisor):
    assert staff_api(supervisor).patch("/api/v1/cases/999999/", {"priority": 1},
                                       format="json").status_code == 404  # fmt: skip
