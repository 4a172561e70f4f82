"""The access matrix: every URL of the URLconf × every kind of caller, with the expected
answer. A URL without a row here fails the test, so a new page or endpoint cannot ship
without someone deciding who may use it.

Callers: anonymous; a wrong token; an integration (token; the case is one it opened);
a specialist (session; the case is assigned to them); a supervisor; a manager; an admin
(a superuser without a workspace role: Django admin only).

Answers: 200/201/302/… as the view gives them to an allowed caller (the body is valid); 401
(API without credentials), 403 (may not), 404 (may not even see it), `login` (a staff page
redirects to the login page)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from calls.models import Callback
from calls.services import cti_endpoint_create
from cases.models import Case, ChatMessage, IdentifierSuggestion, ScammerIdentifier
from cases.roles import Role
from cases.services import case_add_identifier, case_assign, case_chat_reply
from deliveries.models import Delivery
from reminders.models import Reminder
from reminders.services import reminder_schedule_manual
from reports.models import ExportJob
from tests.api.conftest import token_client
from tests.chat_server import SECRET

pytestmark = pytest.mark.django_db

CALLERS = (
    "anon",
    "badtoken",
    "integration",
    "blocking",
    "specialist",
    "supervisor",
    "manager",
    "admin",
)


@dataclass
class World:
    case: Case
    step_id: int
    reminder: Reminder
    job: ExportJob
    users: dict[str, User]
    callback: Callback
    cti_token: str
    chat_case: Case
    chat_message: ChatMessage
    identifier: ScammerIdentifier
    suggestion: IdentifierSuggestion


@dataclass(frozen=True)
class Row:
    method: str
    path: Callable[[World], str]
    expected: dict[str, int | str]
    body: Callable[[World], dict[str, Any]] | None = None
    headers: dict[str, str] | None = None


def _same(answer: int | str, **overrides: int | str) -> dict[str, int | str]:
    return {c: overrides.get(c, answer) for c in CALLERS}


def _staff_page(ok: int | str, **overrides: int | str) -> dict[str, int | str]:
    """A staff page: anonymous and token callers go to the login page (no session); the
    integration account and the admin have no workspace role."""
    base = {
        "anon": "login", "badtoken": "login", "integration": "login", "blocking": "login",
        "admin": 403,
    }  # fmt: skip
    return {c: overrides.get(c, base.get(c, ok)) for c in CALLERS}


def _api(ok: int, **overrides: int | str) -> dict[str, int | str]:
    """An API endpoint: 401 without valid credentials, 403 for a session without a role."""
    base = {"anon": 401, "badtoken": 401, "admin": 403, "blocking": 403}
    return {c: overrides.get(c, base.get(c, ok)) for c in CALLERS}


CASE = "/cases/{case}/"
API_CASE = "/api/v1/cases/{case}/"


def p(template: str) -> Callable[[World], str]:
    return lambda w: template.format(
        case=w.case.pk, step=w.step_id, reminder=w.reminder.pk, job=w.job.pk
    )


def version(w: World) -> int:
    return Case.objects.values_list("version", flat=True).get(pk=w.case.pk)


OPEN_BODY = {
    "channel": "hotline",
    "phone": "8 916 555-44-33",
    "category": "gosuslugi",
    "summary": "Звонили из «поддержки»",
}
ADMIN_ONLY = {"anon": "login", "badtoken": "login", "admin": 200}

MATRIX: dict[tuple[str, str], Row] = {
    # --- operations -------------------------------------------------------------------------
    ("healthz", "GET"): Row("GET", p("/healthz"), _same(200)),
    ("readyz", "GET"): Row("GET", p("/readyz"), _same(200)),
    # No token and no allowlist configured: nobody (tests/test_ops.py covers both).
    ("metrics", "GET"): Row("GET", p("/metrics"), _same(403)),
    # Django admin: only is_staff users (the admin); everyone else is sent to its login.
    ("admin", "GET"): Row("GET", p("/admin/"), _same("admin-login", admin=200)),
    # --- login, API docs --------------------------------------------------------------------
    ("login", "GET"): Row("GET", p("/login/"), _same(200)),
    ("logout", "POST"): Row("POST", p("/logout/"), _same("login")),
    # The API's description is public (it says nothing about the data); a wrong token is
    # still refused, as on every API URL.
    ("api-schema", "GET"): Row("GET", p("/api/schema/"), _same(200, badtoken=401)),
    ("api-docs", "GET"): Row("GET", p("/api/docs/"), _same(200, badtoken=401)),
    ("api-redoc", "GET"): Row("GET", p("/api/redoc/"), _same(200, badtoken=401)),
    # --- SMS gateway callbacks: a shared secret, no user (wrong secret: 403) ---------------
    ("sms-http-dlr", "POST"): Row("POST", p("/sms/http/dlr/"), _same(403)),
    ("sms-http-inbound", "POST"): Row("POST", p("/sms/http/inbound/"), _same(403)),
    # --- API: screen pop, cases -------------------------------------------------------------
    ("api-v1:subscriber-lookup", "GET"): Row(
        "GET",
        lambda w: f"/api/v1/subscribers/lookup/?phone={w.case.subscriber.msisdn}",
        _api(200),
    ),  # fmt: skip
    ("api-v1:case-list", "GET"): Row("GET", p("/api/v1/cases/"), _api(200)),
    ("api-v1:case-list", "POST"): Row(
        "POST",
        p("/api/v1/cases/"),
        _api(201, manager=403),
        body=lambda w: OPEN_BODY,
        headers={"Idempotency-Key": "matrix-1"},
    ),  # fmt: skip
    ("api-v1:case-detail", "GET"): Row("GET", p(API_CASE), _api(200)),
    ("api-v1:case-detail", "PATCH"): Row(
        "PATCH",
        p(API_CASE),
        _api(200, integration=403, manager=403),
        body=lambda w: {"priority": 3},
    ),  # fmt: skip
    ("api-v1:case-messages", "POST"): Row(
        "POST",
        p(API_CASE + "messages/"),
        _api(201, manager=403),
        body=lambda w: {
            "external_id": "m-1",
            "author": "subscriber",
            "text": "Алло",
            "sent_at": "2026-11-28T10:00:00Z",
        },
    ),  # fmt: skip
    # A specialist's reply: whoever works the chat case (the assignee, a supervisor).
    ("api-v1:case-replies", "POST"): Row(
        "POST",
        lambda w: f"/api/v1/cases/{w.chat_case.pk}/replies/",
        _api(201, integration=403, manager=403),
        body=lambda w: {"text": "Здравствуйте!", "request_id": str(uuid.uuid4())},
    ),  # fmt: skip
    ("api-v1:case-reply-resend", "POST"): Row(
        "POST",
        lambda w: f"/api/v1/cases/{w.chat_case.pk}/replies/{w.chat_message.pk}/resend/",
        _api(200, integration=403, specialist=403, manager=403),
    ),  # fmt: skip
    # The chat session's state: the chat backend (it opened the case) and who works it.
    ("api-v1:case-chat-state", "POST"): Row(
        "POST",
        lambda w: f"/api/v1/cases/{w.chat_case.pk}/chat-state/",
        _api(200, manager=403),
        body=lambda w: {"state": "closed_by_subscriber"},
    ),  # fmt: skip
    ("api-v1:case-step", "POST"): Row(
        "POST",
        p(API_CASE + "steps/{step}/"),
        _api(200, manager=403),
        body=lambda w: {"result": "done"},
    ),  # fmt: skip
    ("api-v1:case-notes", "POST"): Row(
        "POST",
        p(API_CASE + "notes/"),
        _api(201, integration=403, manager=403),
        body=lambda w: {"text": "Перезвонить"},
    ),  # fmt: skip
    ("api-v1:case-identifiers", "POST"): Row(
        "POST",
        p(API_CASE + "identifiers/"),
        _api(201, manager=403),
        body=lambda w: {"kind": "phone", "value": "+74951112233"},
    ),  # fmt: skip
    ("api-case-reminders", "GET"): Row("GET", p(API_CASE + "reminders/"), _api(200)),
    ("api-case-reminders", "POST"): Row(
        "POST",
        p(API_CASE + "reminders/"),
        _api(201, integration=403, manager=403),
        body=lambda w: {"text": "Коды никому.", "request_id": "m-2"},
    ),  # fmt: skip
    ("api-reminder-cancel", "POST"): Row(
        "POST",
        p(API_CASE + "reminders/{reminder}/cancel/"),
        _api(200, integration=403, manager=403),
    ),  # fmt: skip
    ("api-v1:category-list", "GET"): Row("GET", p("/api/v1/categories/"), _api(200)),
    ("api-v1:category-detail", "GET"): Row("GET", p("/api/v1/categories/gosuslugi/"), _api(200)),
    ("api-v1:playbook-list", "GET"): Row("GET", p("/api/v1/playbooks/"), _api(200)),
    ("api-v1:playbook-detail", "GET"): Row("GET", p("/api/v1/playbooks/gosuslugi/"), _api(200)),
    # --- API: reports (managers and supervisors) -------------------------------------------
    **{
        (f"reports_api:{name}", "GET"): Row(
            "GET", p(f"/api/v1/reports/{path}"), _api(200, integration=403, specialist=403)
        )
        for name, path in [
            ("all", ""),
            ("summary", "summary/"),
            ("by_day", "by-day/"),
            ("by_category", "by-category/"),
            ("top_phones", "top-phones/"),
            ("top_senders", "top-senders/"),
            ("steps", "steps/"),
            ("sms", "sms/"),
            ("calls", "calls/"),
            ("specialists", "specialists/"),
        ]  # fmt: skip
    },
    # --- staff pages ------------------------------------------------------------------------
    ("cases:home", "GET"): Row("GET", p("/"), _staff_page(302, admin=200)),
    ("cases:list", "GET"): Row("GET", p("/cases/"), _staff_page(200)),
    ("cases:mine", "GET"): Row("GET", p("/cases/mine/"), _staff_page(200)),
    ("cases:assignee_options", "GET"): Row("GET", p("/cases/assignees/"), _staff_page(200)),
    ("cases:new", "GET"): Row("GET", p("/cases/new/"), _staff_page(200, manager=403)),
    ("cases:subscriber_card", "GET"): Row(
        "GET",
        lambda w: f"/cases/subscriber-card/?phone={w.case.subscriber.msisdn}",
        _staff_page(200),
    ),  # fmt: skip
    ("cases:detail", "GET"): Row("GET", p(CASE), _staff_page(200)),
    ("cases:step", "POST"): Row(
        "POST",
        p(CASE + "steps/{step}/"),
        _staff_page(302, manager=403),
        body=lambda w: {"result": "done", "version": version(w)},
    ),  # fmt: skip
    ("cases:note", "POST"): Row(
        "POST",
        p(CASE + "notes/"),
        _staff_page(302, manager=403),
        body=lambda w: {"text": "Перезвонить", "version": version(w)},
    ),  # fmt: skip
    ("cases:identifier", "POST"): Row(
        "POST",
        p(CASE + "identifiers/"),
        _staff_page(302, manager=403),
        body=lambda w: {"kind": "phone", "value": "+74951112233", "version": version(w)},
    ),  # fmt: skip
    ("cases:status", "POST"): Row(
        "POST",
        p(CASE + "status/"),
        _staff_page(302, manager=403),
        body=lambda w: {"status": "waiting", "version": version(w)},
    ),  # fmt: skip
    # Taking an assigned case: the assignee already has it (no change), a supervisor takes it
    # over; both come back to the page.
    ("cases:take_next", "POST"): Row(
        "POST", p("/cases/next/"), _staff_page(302, supervisor=403, manager=403)
    ),
    ("cases:take", "POST"): Row(
        "POST",
        p(CASE + "take/"),
        _staff_page(302, manager=403),
        body=lambda w: {"version": version(w)},
    ),  # fmt: skip
    ("cases:suggestion", "POST"): Row(
        "POST",
        lambda w: f"/cases/{w.case.pk}/suggestions/{w.suggestion.pk}/",
        _staff_page(302, manager=403),
        body=lambda w: {"action": "add", "version": version(w)},
    ),  # fmt: skip
    ("api-v1:case-suggestion", "POST"): Row(
        "POST",
        lambda w: f"/api/v1/cases/{w.case.pk}/suggestions/{w.suggestion.pk}/",
        _api(200, manager=403),
        body=lambda w: {"action": "add"},
    ),  # fmt: skip
    # --- scammer intelligence -----------------------------------------------------------------
    ("intel:review", "GET"): Row(
        "GET", p("/intel/review/"), _staff_page(200, specialist=403, manager=403)
    ),
    ("intel:decide", "POST"): Row(
        "POST",
        lambda w: f"/intel/identifiers/{w.identifier.pk}/decide/",
        _staff_page(302, specialist=403, manager=403),
        body=lambda w: {"verdict": "confirmed", "seen": ""},
    ),  # fmt: skip
    ("intel:confirmed_csv", "GET"): Row(
        "GET", p("/intel/confirmed.csv"), _staff_page(200, specialist=403, manager=403)
    ),  # fmt: skip
    ("intel:waves", "GET"): Row("GET", p("/intel/waves/"), _staff_page(200, specialist=403)),
    ("intel:figures", "GET"): Row("GET", p("/intel/figures/"), _staff_page(200, specialist=403)),
    # The feed: the blocking systems' own role, and supervisors; integrations may not.
    ("api_feed", "GET"): Row(
        "GET",
        p("/api/v1/feed/identifiers/"),
        _api(200, integration=403, specialist=403, manager=403, blocking=200),
    ),  # fmt: skip
    ("cases:chat_log", "GET"): Row(
        "GET", lambda w: f"/cases/{w.chat_case.pk}/chat/", _staff_page(200)
    ),  # fmt: skip
    ("cases:chat_reply", "POST"): Row(
        "POST",
        lambda w: f"/cases/{w.chat_case.pk}/chat/reply/",
        _staff_page(302, manager=403),
        body=lambda w: {
            "text": "Здравствуйте!",
            "request_id": str(uuid.uuid4()),
            "version": Case.objects.values_list("version", flat=True).get(pk=w.chat_case.pk),
        },
    ),  # fmt: skip
    # Sending a refused reply again: supervisors only.
    ("cases:chat_resend", "POST"): Row(
        "POST",
        lambda w: f"/cases/{w.chat_case.pk}/chat/{w.chat_message.pk}/resend/",
        _staff_page(302, specialist=403, manager=403),
    ),  # fmt: skip
    ("cases:sms_schedule", "POST"): Row(
        "POST",
        p(CASE + "sms/"),
        _staff_page(302, manager=403),
        body=lambda w: {
            "text": "Коды никому.",
            "delay": "0",
            "request_id": str(uuid.uuid4()),
            "version": version(w),
        },
    ),  # fmt: skip
    ("cases:sms_cancel", "POST"): Row(
        "POST",
        p(CASE + "sms/{reminder}/cancel/"),
        _staff_page(302, manager=403),
        body=lambda w: {"version": version(w)},
    ),  # fmt: skip
    ("cases:queue", "GET"): Row("GET", p("/queue/"), _staff_page(200, specialist=403)),
    ("cases:assign", "POST"): Row(
        "POST",
        p("/queue/assign/"),
        _staff_page(302, specialist=403, manager=403),
        body=lambda w: {"cases": w.case.pk, "assignee": "", f"v_{w.case.pk}": version(w)},
    ),  # fmt: skip
    ("cases:auto_assign", "POST"): Row(
        "POST", p("/queue/auto-assign/"), _staff_page(302, specialist=403, manager=403)
    ),
    ("cases:availability", "POST"): Row(
        "POST",
        p("/queue/availability/"),
        _staff_page(302, specialist=403, manager=403),
        body=lambda w: {"user": w.users["specialist"].pk, "is_available": "0"},
    ),  # fmt: skip
    # A break for the specialist: they themself and a supervisor may; a manager may not.
    ("cases:absence", "POST"): Row(
        "POST",
        p("/staff/absence/"),
        _staff_page(302, manager=403),
        body=lambda w: {"user": w.users["specialist"].pk, "action": "break", "minutes": "15"},
    ),  # fmt: skip
    # --- calls -------------------------------------------------------------------------------
    # The screen pop shows only calls the person answered: any signed-in staff, 204 here.
    ("calls:pop", "GET"): Row("GET", p("/calls/pop/"), _staff_page(204, admin=204)),
    ("calls:queue", "GET"): Row("GET", p("/calls/queue/"), _staff_page(200, specialist=403)),
    ("calls:auto_assign", "POST"): Row(
        "POST", p("/calls/auto-assign/"), _staff_page(302, specialist=403, manager=403)
    ),
    ("calls:callbacks", "GET"): Row("GET", p("/calls/callbacks/"), _staff_page(200, manager=403)),
    ("calls:attempt", "POST"): Row(
        "POST",
        lambda w: f"/calls/callbacks/{w.callback.pk}/attempt/",
        _staff_page(302, manager=403),
        body=lambda w: {"result": "no_answer"},
    ),  # fmt: skip
    # The PBX's push: no session or API token, the token is in the URL (a wrong one is 404).
    ("cti_push", "POST"): Row(
        "POST",
        lambda w: f"/api/v1/cti/{w.cti_token}",
        _same(200),
        body=lambda w: {
            "event": "newCall",
            "callId": "m-1",
            "from": "89161234567",
            "to": "611",
            "direction": "in",
        },
    ),  # fmt: skip
    ("cti_push_slash", "POST"): Row(
        "POST",
        lambda w: "/api/v1/cti/not-a-token/",
        _same(404),
        body=lambda w: {"event": "newCall"},
    ),  # fmt: skip
    ("api_calls", "GET"): Row("GET", p("/api/v1/calls/"), _api(200)),
    ("api_callbacks", "GET"): Row("GET", p("/api/v1/callbacks/"), _api(200)),
    # --- reports pages ----------------------------------------------------------------------
    ("reports:page", "GET"): Row("GET", p("/reports/"), _staff_page(200, specialist=403)),
    ("reports:export_cases_csv", "GET"): Row(
        "GET",
        p("/reports/export/cases.csv?period=day&date=2026-11-28&columns=number"),
        _staff_page(200, specialist=403),
    ),
    ("reports:export_table_csv", "GET"): Row(
        "GET", p("/reports/export/table/by_category.csv"), _staff_page(200, specialist=403)
    ),
    ("reports:export_xlsx", "POST"): Row(
        "POST",
        p("/reports/exports/"),
        _staff_page(302, specialist=403),
        body=lambda w: {"columns": ["number"]},
    ),  # fmt: skip
    # Someone else's export is "not found" to everyone but its owner (the manager).
    ("reports:job", "GET"): Row(
        "GET", p("/reports/exports/{job}/"), _staff_page(200, specialist=403, supervisor=404)
    ),
    ("reports:download", "GET"): Row(
        "GET",
        p("/reports/exports/{job}/download/"),
        _staff_page(404, specialist=403, supervisor=404),
    ),  # fmt: skip
}


def _all_urls() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list, namespace: str = "") -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    names.add("admin")  # one row: the admin site decides inside
                    continue
                ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, ns)
            elif isinstance(pattern, URLPattern):
                names.add(namespace + (pattern.name or str(pattern.pattern)))

    walk(get_resolver().url_patterns)
    return names


def test_every_url_has_a_row_in_the_access_matrix():
    missing = _all_urls() - {name for name, _method in MATRIX}
    assert not missing, f"add these URLs to MATRIX with who may use them: {sorted(missing)}"


@pytest.fixture
def world(make_case, specialist, supervisor, manager, integration, settings) -> World:
    settings.SMS_CALLBACK_SECRET = "matrix-secret"
    cache.clear()  # the budget of wrong tokens per address is kept in the cache
    admin = User.objects.create_superuser("root", password="pass-Secret-611")
    blocking = User.objects.create_user("antifraud-feed")
    blocking.groups.add(Group.objects.get(name=Role.BLOCKING))
    case = case_assign(case=make_case(), assignee=specialist, actor=supervisor)
    reminder, _ = reminder_schedule_manual(
        case=case, text="Обращение принято.", send_after=None, request_id="matrix",
        actor=specialist,
    )  # fmt: skip
    job = ExportJob.objects.create(owner=manager, format="xlsx", columns=["number"])
    users = {
        "specialist": specialist, "supervisor": supervisor, "manager": manager,
        "integration": integration, "admin": admin, "blocking": blocking,
    }  # fmt: skip
    step_id = case.playbook_version.steps.get(position=1).pk
    callback = Callback.objects.create(subscriber=case.subscriber, due_at=timezone.now())
    _endpoint, cti_token = cti_endpoint_create(name="matrix-pbx")
    settings.DELIVERY_TARGETS = {"chat": {"URL": "http://127.0.0.1:9/chat/", "SECRET": SECRET}}
    chat_case = case_assign(case=make_case(channel="chat"), assignee=specialist, actor=supervisor)
    chat_message, _ = case_chat_reply(
        case=chat_case, text="Здравствуйте", request_id="matrix", actor=specialist
    )
    Delivery.objects.filter(pk=chat_message.delivery_id).update(status=Delivery.Status.FAILED)
    return World(
        case=case, step_id=step_id, reminder=reminder, job=job, users=users,
        callback=callback, cti_token=cti_token, chat_case=chat_case, chat_message=chat_message,
        identifier=case_add_identifier(case=case, kind="phone", value="+74950001122",
                                       actor=specialist),
        suggestion=IdentifierSuggestion.objects.create(
            case=case, kind="link", value="gosuslugi-help.ru", display="gosuslugi-help.ru"
        ),
    )  # fmt: skip


def _client(caller: str, w: World) -> Client:
    if caller == "anon":
        return APIClient()
    if caller == "badtoken":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
        return client
    if caller in ("integration", "blocking"):
        return token_client(w.users[caller])
    client = APIClient()
    client.force_login(w.users[caller])
    return client


def _answer(response: Any) -> int | str:
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("/admin/login/"):
            return "admin-login"
        if location.startswith("/login/"):
            return "login"
    return response.status_code


@pytest.mark.parametrize("key", sorted(MATRIX), ids=lambda k: f"{k[1]} {k[0]}")
def test_the_access_matrix(key, world):
    row = MATRIX[key]
    observed = {}
    for caller in CALLERS:
        # Each caller on the same world: whatever one of them changed is undone.
        with transaction.atomic():
            client = _client(caller, world)
            extra = {
                f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (row.headers or {}).items()
            }
            body = row.body(world) if row.body else {}
            call = getattr(client, row.method.lower())
            kwargs = (
                {"format": "json"} if row.method in ("PATCH",) or key[0].startswith("api") else {}
            )
            response = call(row.path(world), body, **kwargs, **extra)
            observed[caller] = _answer(response)
            transaction.set_rollback(True)
    if os.environ.get("ACCESS_MATRIX_PRINT"):
        print(key, observed)
    assert observed == row.expected
