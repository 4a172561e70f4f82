"""The staff pages and the API agree: every case action, through both, for every role, on an
open (assigned or free) and on a closed case, is allowed or refused alike and writes the same
rows. Both go through cases.access and cases.services, so this holds by construction; the
table proves it, and a new case write URL without a row in the table fails the test.

Integrations have no staff pages (the workspace refuses them); what they may do through the
API is in the access matrix (tests/test_access_matrix.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import (
    Case,
    CaseEvent,
    CaseIdentifier,
    ChatMessage,
    IdentifierSuggestion,
    Status,
    StepOutcome,
)
from cases.services import case_add_note, case_assign, case_chat_reply
from deliveries.models import Delivery
from reminders.models import Reminder
from reminders.services import reminder_schedule_manual
from tests.chat_server import SECRET

pytestmark = pytest.mark.django_db


@dataclass
class World:
    case: Case
    reminder: Reminder
    assignee: User
    other: User
    failed_reply: ChatMessage
    suggestion: IdentifierSuggestion

    def version(self) -> int:
        return Case.objects.values_list("version", flat=True).get(pk=self.case.pk)

    def step_pk(self) -> int:
        return self.case.playbook_version.steps.get(position=1).pk


def _staff_post(name: str, data: Callable[[World], dict], *args: Callable[[World], Any]):
    def run(client: Client, w: World) -> int:
        url = reverse(f"cases:{name}", args=[w.case.pk, *(a(w) for a in args)])
        return client.post(url, {**data(w), "version": w.version()}).status_code

    return run


def _api(method: str, path: str, body: Callable[[World], dict]):
    def run(client: APIClient, w: World) -> int:
        url = "/api/v1/cases/{case}/" + path
        url = url.format(
            case=w.case.pk, step=w.step_pk(), reminder=w.reminder.pk, message=w.failed_reply.pk,
            suggestion=w.suggestion.pk,
        )  # fmt: skip
        call = getattr(client, method)
        return call(url, body(w), format="json", HTTP_IF_MATCH=str(w.version())).status_code

    return run


def _staff_assign(client: Client, w: World) -> int:
    data = {"cases": w.case.pk, f"v_{w.case.pk}": w.version(), "assignee": w.other.pk}
    return client.post(reverse("cases:assign"), data).status_code


SMS_TEXT = "Никому не сообщайте коды из SMS."
CHAT_TEXT = "Здравствуйте! Код из SMS никому не называйте."


@dataclass(frozen=True)
class Action:
    staff: Callable[[Client, World], int]
    api: Callable[[APIClient, World], int]
    # The URL names (staff, API) this row covers: every case write URL must be covered.
    urls: tuple[str, ...]


ACTIONS: dict[str, Action] = {
    "step": Action(
        _staff_post("step", lambda w: {"result": "done", "note": "сообщил код"}, World.step_pk),
        _api("post", "steps/{step}/", lambda w: {"result": "done", "note": "сообщил код"}),
        ("cases:step", "api-v1:case-step"),
    ),
    "note": Action(
        _staff_post("note", lambda w: {"text": "Перезвонить после 18:00"}),
        _api("post", "notes/", lambda w: {"text": "Перезвонить после 18:00"}),
        ("cases:note", "api-v1:case-notes"),
    ),
    "identifier": Action(
        _staff_post("identifier", lambda w: {"kind": "phone", "value": "+7 495 111-22-33"}),
        _api("post", "identifiers/", lambda w: {"kind": "phone", "value": "84951112233"}),
        ("cases:identifier", "api-v1:case-identifiers"),
    ),
    "status": Action(
        _staff_post("status", lambda w: {"status": Status.WAITING}),
        _api("patch", "", lambda w: {"status": Status.WAITING}),
        ("cases:status", "api-v1:case-detail"),
    ),
    "close": Action(
        _staff_post("status", lambda w: {"status": Status.CLOSED, "outcome": "duplicate"}),
        _api("patch", "", lambda w: {"status": Status.CLOSED, "outcome": "duplicate"}),
        ("cases:status", "api-v1:case-detail"),
    ),
    "reopen": Action(
        _staff_post("status", lambda w: {"status": Status.IN_PROGRESS}),
        _api("patch", "", lambda w: {"status": Status.IN_PROGRESS}),
        ("cases:status", "api-v1:case-detail"),
    ),
    "sms_schedule": Action(
        _staff_post(
            "sms_schedule",
            lambda w: {
                "text": SMS_TEXT,
                "delay": "0",
                "request_id": "0c5b7d9e-1f0a-4f0e-9d55-3a9f8c7b6a5d",
            },
        ),  # fmt: skip
        _api(
            "post",
            "reminders/",
            lambda w: {"text": SMS_TEXT, "request_id": "0c5b7d9e-1f0a-4f0e-9d55-3a9f8c7b6a5d"},
        ),
        ("cases:sms_schedule", "api-case-reminders"),
    ),
    "sms_cancel": Action(
        _staff_post("sms_cancel", lambda w: {}, lambda w: w.reminder.pk),
        _api("post", "reminders/{reminder}/cancel/", lambda w: {}),
        ("cases:sms_cancel", "api-reminder-cancel"),
    ),
    "chat_reply": Action(
        _staff_post(
            "chat_reply",
            lambda w: {"text": CHAT_TEXT, "request_id": "5d1f9a0e-2c3b-4d5e-8f70-112233445566"},
        ),
        _api(
            "post",
            "replies/",
            lambda w: {"text": CHAT_TEXT, "request_id": "5d1f9a0e-2c3b-4d5e-8f70-112233445566"},
        ),
        ("cases:chat_reply", "api-v1:case-replies"),
    ),
    "chat_resend": Action(
        _staff_post("chat_resend", lambda w: {}, lambda w: w.failed_reply.pk),
        _api("post", "replies/{message}/resend/", lambda w: {}),
        ("cases:chat_resend", "api-v1:case-reply-resend"),
    ),
    "suggestion": Action(
        _staff_post("suggestion", lambda w: {"action": "add"}, lambda w: w.suggestion.pk),
        _api("post", "suggestions/{suggestion}/", lambda w: {"action": "add"}),
        ("cases:suggestion", "api-v1:case-suggestion"),
    ),
    "assign": Action(
        _staff_assign,
        _api("patch", "", lambda w: {"assignee": w.other.pk}),
        ("cases:assign", "api-v1:case-detail"),
    ),
}


def _take_staff(client: Client, w: World) -> int:
    return client.post(
        reverse("cases:take", args=[w.case.pk]), {"version": w.version()}
    ).status_code


def _take_api(client: APIClient, w: World) -> int:
    user_id = int(client.session["_auth_user_id"])
    url = f"/api/v1/cases/{w.case.pk}/"
    body = {"assignee": user_id}
    return client.patch(url, body, format="json", HTTP_IF_MATCH=str(w.version())).status_code


ACTIONS["take"] = Action(_take_staff, _take_api, ("cases:take", "api-v1:case-detail"))

# Case write URLs that have no twin on purpose.
API_ONLY = {
    # Chat lines come from the chat backend; a specialist's reply is its own issue.
    "api-v1:case-messages": "the chat backend's transcript, not a staff action",
    "api-v1:case-chat-state": "the chat backend's report of the session, not a staff action",
}


STATES = ("open", "free", "closed")
ROLES = ("assignee", "specialist", "supervisor", "manager", "admin")


@pytest.fixture(autouse=True)
def _chat_target(settings):
    # Replies need the chat backend's address; nothing is sent (no commit in these tests).
    settings.DELIVERY_TARGETS = {"chat": {"URL": "http://127.0.0.1:9/chat/", "SECRET": SECRET}}


@pytest.fixture
def people(specialist, specialist2, supervisor, manager, db):
    admin = User.objects.create_superuser("root", password="pass-Secret-611")
    target = User.objects.create_user("spec3", password="pass-Secret-611")
    target.groups.add(*specialist.groups.all())
    return {
        "target": target,
        "assignee": specialist,
        "specialist": specialist2,
        "supervisor": supervisor,
        "manager": manager,
        "admin": admin,
    }


def _world(make_case, people, state: str) -> World:
    case = make_case(channel="chat")
    assignee = people["assignee"]
    reminder, _ = reminder_schedule_manual(
        case=case, text="Обращение принято.", send_after=None, request_id=str(uuid.uuid4()),
        actor=people["supervisor"],
    )  # fmt: skip
    failed_reply, _ = case_chat_reply(
        case=case, text="Отклонённый ответ", request_id=str(uuid.uuid4()),
        actor=people["supervisor"],
    )  # fmt: skip
    Delivery.objects.filter(pk=failed_reply.delivery_id).update(status=Delivery.Status.FAILED)
    case_add_note(case=case, text="Звонили с +7 495 123-45-67", actor=people["supervisor"])
    suggestion = IdentifierSuggestion.objects.get(case=case)
    if state != "free":
        case = case_assign(case=case, assignee=assignee, actor=people["supervisor"])
    if state == "closed":
        Case.objects.filter(pk=case.pk).update(
            status=Status.CLOSED, outcome="referred_police", closed_at=timezone.now()
        )
    case.refresh_from_db()
    # Assignments go to a third specialist, never the person acting (that is «take»).
    return World(
        case=case, reminder=reminder, assignee=assignee, other=people["target"],
        failed_reply=failed_reply, suggestion=suggestion,
    )  # fmt: skip


def _rows(case: Case) -> dict[str, Any]:
    """What a case action can write, in terms that do not depend on the case's ids."""
    c = Case.objects.get(pk=case.pk)
    positions = dict(c.playbook_version.steps.values_list("pk", "position"))
    return {
        "case": (c.status, c.outcome, c.assignee_id, c.version),
        "steps": sorted(
            (positions[o.step_id], o.result, o.note) for o in StepOutcome.objects.filter(case=c)
        ),
        "events": sorted((e.kind, e.text, e.actor_id) for e in CaseEvent.objects.filter(case=c)),
        "identifiers": sorted(
            CaseIdentifier.objects.filter(case=c).values_list("identifier__value", flat=True)
        ),
        "reminders": sorted(Reminder.objects.filter(case=c).values_list("status", "text")),
        "suggestions": sorted(
            IdentifierSuggestion.objects.filter(case=c).values_list("display", "resolved")
        ),
        "chat": sorted(
            ChatMessage.objects.filter(case=c).values_list("author", "text", "delivery__status")
        ),
    }


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: (before[k], after[k]) for k in before if before[k] != after[k]}


def _allowed(action: str, role: str, state: str) -> bool:
    """The rules in words, so that the two ways cannot agree on refusing everything."""
    works = role in ("supervisor", "assignee") or (role == "specialist" and state == "free")
    if action in ("assign", "chat_resend"):
        return role == "supervisor"
    if action == "take":
        return role == "supervisor" or (role in ("assignee", "specialist") and state == "free")
    if action in ("step", "status", "close", "sms_schedule", "chat_reply"):
        return works and state != "closed"  # a closed case's playbook and SMS are history
    return works  # notes, identifiers, cancelling an SMS, reopening: closed cases too


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_the_staff_page_and_the_api_agree(action, role, state, make_case, people):
    user = people[role]
    results = {}
    for way in ("staff", "api"):
        world = _world(make_case, people, state)
        before = _rows(world.case)
        client: Any = Client() if way == "staff" else APIClient()
        client.force_login(user)
        status = getattr(ACTIONS[action], way)(client, world)
        assert status < 500, (way, status)
        delta = _delta(before, _rows(world.case))
        if delta:
            assert status < 400, (way, status, delta)
        results[way] = delta
    assert results["staff"] == results["api"], results
    assert bool(results["staff"]) == _allowed(action, role, state), results


# Case URLs that only read.
READ_ONLY = {"cases:detail": "the case page", "cases:chat_log": "the conversation, polled"}


def _case_urls() -> set[str]:
    """Every named URL of one case (its pages and API endpoints), and the queue's assignment."""
    names: set[str] = set()

    def walk(patterns: list, prefix: str = "", namespace: str = "") -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, route, ns)
            elif (
                isinstance(p, URLPattern)
                and p.name
                and route.startswith(("cases/<int:pk>/", "api/v1/cases/<int:case_id>/"))
            ):
                names.add(namespace + p.name)

    walk(get_resolver().url_patterns)
    return names | {"cases:assign"}


def test_every_case_url_has_a_row_in_the_parity_table():
    covered = {name for a in ACTIONS.values() for name in a.urls} | set(API_ONLY) | set(READ_ONLY)
    missing = _case_urls() - covered
    assert not missing, f"add these to ACTIONS (or API_ONLY with a reason): {sorted(missing)}"
