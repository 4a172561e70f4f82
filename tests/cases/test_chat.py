"""Two-way chat: the specialist's reply (service, case page, API), the chat session state
from the chat backend, the conversation as a chat, resending a refused reply."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import Case, CaseEvent, ChatMessage, ChatState, Status
from cases.services import (
    CaseConflict,
    case_append_message,
    case_assign,
    case_chat_reply,
    case_chat_set_state,
)
from deliveries.models import Delivery
from deliveries.receiver import Answer
from deliveries.services import delivery_send

pytestmark = pytest.mark.django_db
D = Delivery.Status


def _v(case: Case) -> int:
    return Case.objects.values_list("version", flat=True).get(pk=case.pk)


@pytest.fixture
def chat_case(make_case, specialist):
    case = make_case(channel="chat", external_id="chat-42")
    return case_assign(case=case, assignee=specialist, actor=specialist)


def _reply(case, actor, text="Здравствуйте! Никому не называйте код из SMS.", rid=None, **kw):
    return case_chat_reply(
        case=case, text=text, request_id=rid or str(uuid.uuid4()), actor=actor, **kw
    )


def _request_id(html: str) -> str:
    form = html[html.index('id="chat-form"') :]
    return re.search(r'name="request_id" value="([0-9a-f-]{36})"', form).group(1)


# --- The service ------------------------------------------------------------------------------


def test_a_reply_writes_the_message_and_its_delivery_together(chat_server, chat_case, specialist):
    specialist.last_name = "Петрова"
    specialist.save()
    version = _v(chat_case)
    message, created = _reply(chat_case, specialist, expected_version=version)
    assert created and message.author == ChatMessage.Author.SPECIALIST
    assert message.sender == specialist and message.external_id.startswith("fc-")
    d = message.delivery
    assert d.status == D.PENDING and d.ordering_key == f"case:{chat_case.pk}"
    assert _v(chat_case) == version + 1
    event = chat_case.events.filter(kind=CaseEvent.Kind.MESSAGE).get()
    assert event.actor == specialist and event.data["reply"] is True
    delivery_send(d.pk)
    [got] = chat_server.accepted()
    data = got.body["data"]
    assert data["chat_id"] == "chat-42" and data["case_number"] == chat_case.number
    assert data["message_id"] == message.external_id
    assert data["author"] == {"kind": "specialist", "name": "spec П."}  # never the login
    assert ChatMessage.objects.get(pk=message.pk).delivery.status == D.DELIVERED


def test_the_same_request_twice_is_one_message_and_one_delivery(chat_server, chat_case, specialist):
    rid = str(uuid.uuid4())
    first, created = _reply(chat_case, specialist, rid=rid, expected_version=_v(chat_case))
    # The retry carries the version it saw before its own write moved it on: still answered.
    again, created_again = _reply(
        chat_case, specialist, rid=rid, expected_version=_v(chat_case) - 1
    )
    assert created and not created_again and again.pk == first.pk
    assert ChatMessage.objects.count() == 1 and Delivery.objects.count() == 1


def test_a_stale_version_is_refused(chat_server, chat_case, specialist):
    with pytest.raises(CaseConflict):
        _reply(chat_case, specialist, expected_version=_v(chat_case) - 1)
    assert not ChatMessage.objects.exists() and not Delivery.objects.exists()


@pytest.mark.parametrize(
    ("setup", "code", "words"),
    [
        ("no_url", "chat_off", "не настроены"),
        ("hotline", "not_chat", "не из чата"),
        ("closed", "case_closed", "закрыто"),
        ("left", "chat_left", "закрыл чат"),
        ("timed_out", "chat_left", "тайм-ауту"),
    ],
)
def test_a_reply_that_cannot_go_is_refused_with_the_reason(
    chat_server, make_case, specialist, integration, settings, setup, code, words
):
    from django.core.exceptions import ValidationError

    case = make_case(channel="hotline" if setup == "hotline" else "chat")
    if setup == "no_url":
        settings.DELIVERY_TARGETS = {"chat": {"URL": "", "SECRET": ""}}
    if setup == "closed":
        Case.objects.filter(pk=case.pk).update(status=Status.CLOSED)
    if setup in ("left", "timed_out"):
        state = ChatState.CLOSED_BY_SUBSCRIBER if setup == "left" else ChatState.TIMED_OUT
        case_chat_set_state(case=case, state=state, changed_at=None, actor=integration)
    case.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        _reply(case, specialist)
    assert (
        refused.value.error_list[0].code == code if hasattr(refused.value, "error_list") else True
    )
    assert words in " ".join(refused.value.messages)
    assert not ChatMessage.objects.exists() and not Delivery.objects.exists()


@pytest.mark.parametrize("text", ["", "   \n", "я" * 4001])
def test_an_empty_or_too_long_reply_is_a_field_error(chat_server, chat_case, specialist, text):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        _reply(chat_case, specialist, text=text)
    assert "text" in refused.value.message_dict


def test_chat_state_reports_out_of_order_are_ignored_and_a_subscriber_line_reopens(
    chat_case, integration
):
    now = timezone.now()
    case, changed = case_chat_set_state(
        case=chat_case, state=ChatState.CLOSED_BY_SUBSCRIBER, changed_at=now, actor=integration
    )
    assert changed and case.subscriber_left_chat
    version = _v(chat_case)
    # An older "open" arriving late changes nothing; the same report twice neither.
    _case, changed = case_chat_set_state(
        case=chat_case, state=ChatState.OPEN, changed_at=now - timedelta(seconds=5),
        actor=integration,
    )  # fmt: skip
    assert not changed
    _case, changed = case_chat_set_state(
        case=chat_case, state=ChatState.CLOSED_BY_SUBSCRIBER, changed_at=now, actor=integration
    )
    assert not changed
    assert Case.objects.get(pk=chat_case.pk).chat_state == ChatState.CLOSED_BY_SUBSCRIBER
    case_append_message(
        case=chat_case, external_id="m-1", author="subscriber", text="Я снова тут",
        sent_at=now + timedelta(seconds=30), actor=integration,
    )  # fmt: skip
    case = Case.objects.get(pk=chat_case.pk)
    assert case.chat_state == ChatState.OPEN and not case.subscriber_left_chat
    assert _v(chat_case) == version  # not a person's change
    states = chat_case.events.filter(kind=CaseEvent.Kind.CHAT_STATE)
    assert [e.data["state"] for e in states] == ["closed_by_subscriber", "open"]


# --- The case page ----------------------------------------------------------------------------


def _page(client, case) -> str:
    return client.get(reverse("cases:detail", args=[case.pk])).content.decode()


def test_the_conversation_reads_like_a_chat(
    client, chat_server, chat_case, specialist, integration
):
    now = timezone.now() - timedelta(minutes=1)
    for n, (author, text) in enumerate(
        [("bot", "Опишите, что случилось"), ("subscriber", "Звонили из банка, просили код")]
    ):
        case_append_message(
            case=chat_case, external_id=f"m{n}", author=author, text=text,
            sent_at=now + timedelta(seconds=n), actor=integration,
        )  # fmt: skip
    _reply(chat_case, specialist, text="Код никому не называйте.")
    client.force_login(specialist)
    html = _page(client, chat_case)
    chat = html[html.index('id="chat"') : html.index('id="playbook"')]
    assert chat.index("msg-bot") < chat.index("msg-subscriber") < chat.index("msg-specialist")
    assert "Бот" in chat and "Абонент" in chat and "отправляется" in chat
    assert 'id="chat-form"' in chat and "Ctrl+Enter" in chat
    # The timeline names the subscriber and the bot, not the chat backend's account.
    timeline = html[html.index('id="timeline"') :]
    lines = re.findall(r'<li class="ev-message">(.*?)</li>', timeline, re.S)
    assert len(lines) == 3
    assert not any(integration.username in line for line in lines)
    assert ["Абонент" in lines[1], "Бот" in lines[2], "spec" in lines[0]] == [True] * 3


def test_without_a_chat_address_the_reply_box_is_hidden_and_the_rest_works(
    client, chat_case, specialist, settings, integration
):
    settings.DELIVERY_TARGETS = {"chat": {"URL": "", "SECRET": ""}}
    case_append_message(
        case=chat_case, external_id="m1", author="subscriber", text="Алло",
        sent_at=timezone.now(), actor=integration,
    )  # fmt: skip
    client.force_login(specialist)
    html = _page(client, chat_case)
    assert 'id="chat"' in html and "Алло" in html and 'id="chat-form"' not in html


def test_a_hotline_case_without_chat_lines_has_no_chat_card(
    client, make_case, specialist, chat_server
):
    case = make_case()
    client.force_login(specialist)
    assert 'id="chat"' not in _page(client, case)


def test_the_reply_box_offers_the_current_steps_words(client, chat_server, chat_case, specialist):
    from playbooks.models import Step
    from playbooks.selectors import forget_kept

    Step.objects.filter(version=chat_case.playbook_version, position=1).update(
        script="Никому не сообщайте код из SMS — даже сотрудникам банка."
    )
    forget_kept()  # a published step changed behind the model's back
    client.force_login(specialist)
    html = _page(client, chat_case)
    assert 'data-insert-text="Никому не сообщайте код из SMS — даже сотрудникам банка."' in html


def test_sending_from_the_page_with_htmx_shows_the_message_at_once(
    client, chat_server, chat_case, specialist
):
    client.force_login(specialist)
    html = _page(client, chat_case)
    rid = _request_id(html)
    data = {
        "text": "Здравствуйте, я специалист центра.",
        "request_id": rid,
        "version": _v(chat_case),
    }
    url = reverse("cases:chat_reply", args=[chat_case.pk])
    response = client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Здравствуйте, я специалист центра." in body and "отправляется" in body
    assert 'hx-swap-oob="outerHTML:.case-version"' in body  # every form gets the new version
    assert _request_id(body) != rid  # a fresh form for the next message
    # Ctrl+Enter twice: the same request id is one message.
    again = client.post(url, data, HTTP_HX_REQUEST="true")
    assert again.status_code == 200 and ChatMessage.objects.count() == 1


def test_a_refused_reply_keeps_what_was_typed(
    client, chat_server, chat_case, specialist, integration
):
    case_chat_set_state(
        case=chat_case, state=ChatState.CLOSED_BY_SUBSCRIBER, changed_at=None, actor=integration
    )
    client.force_login(specialist)
    rid = _request_id(_page(client, chat_case))
    typed = "Проверьте, пожалуйста, входы в Госуслуги"
    data = {"text": typed, "request_id": rid, "version": _v(chat_case)}
    url = reverse("cases:chat_reply", args=[chat_case.pk])
    response = client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    body = response.content.decode()
    assert "Абонент закрыл чат" in body and typed in body
    # Without htmx: the page, with the same.
    page = client.post(url, data)
    assert page.status_code == 400 and typed in page.content.decode()
    stale = client.post(url, {**data, "version": _v(chat_case) - 1}, HTTP_HX_REQUEST="true")
    assert stale.status_code == 409 and typed in stale.content.decode()
    assert not ChatMessage.objects.exists()


def test_a_plain_post_redirects_to_the_chat(client, chat_server, chat_case, specialist):
    client.force_login(specialist)
    rid = _request_id(_page(client, chat_case))
    data = {"text": "Добрый день", "request_id": rid, "version": _v(chat_case)}
    response = client.post(reverse("cases:chat_reply", args=[chat_case.pk]), data)
    assert response.status_code == 302 and response["Location"].endswith("#chat")


def test_the_polled_log_shows_delivery_states_and_the_attempts(
    client, chat_server, chat_case, specialist, supervisor
):
    chat_server.script(Answer(400))
    message, _ = _reply(chat_case, specialist)
    delivery_send(message.delivery_id)
    client.force_login(specialist)
    log = client.get(reverse("cases:chat_log", args=[chat_case.pk])).content.decode()
    assert "не доставлено" in log and "1 попытка" in log and "400" in log
    assert "Отправить ещё раз" not in log  # a supervisor's action
    client.force_login(supervisor)
    log = client.get(reverse("cases:chat_log", args=[chat_case.pk])).content.decode()
    assert "Отправить ещё раз" in log


def test_a_supervisor_resends_a_refused_reply(
    client, chat_server, chat_case, specialist, supervisor
):
    chat_server.script(Answer(400))
    message, _ = _reply(chat_case, specialist)
    delivery_send(message.delivery_id)
    url = reverse("cases:chat_resend", args=[chat_case.pk, message.pk])
    client.force_login(specialist)
    assert client.post(url, HTTP_HX_REQUEST="true").status_code == 403
    client.force_login(supervisor)
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "отправляется" in response.content.decode()
    delivery_send(message.delivery_id)
    assert Delivery.objects.get(pk=message.delivery_id).status == D.DELIVERED
    again = client.post(url, HTTP_HX_REQUEST="true")
    assert again.status_code == 409 and "только недоставленное" in again.content.decode()
    other = reverse("cases:chat_resend", args=[chat_case.pk, 999999])
    assert client.post(other).status_code == 404


def test_the_chat_log_costs_the_same_queries_however_long_the_chat(
    client, chat_server, chat_case, specialist, integration, django_assert_num_queries
):
    client.force_login(specialist)
    url = reverse("cases:chat_log", args=[chat_case.pk])
    client.get(url)  # the staff profile is made on first use
    for n in range(2):
        for i in range(5 * (n + 1)):
            case_append_message(
                case=chat_case, external_id=f"m{n}-{i}", author="subscriber", text="Алло",
                sent_at=timezone.now(), actor=integration,
            )  # fmt: skip
            message, _ = _reply(chat_case, specialist)
            delivery_send(message.delivery_id)
        # 1 session, 2 the user with its roles, model permissions and time zone
        # (cases.roles), 3 the case with its subscriber, 4 the lines with sender and
        # delivery, 5 the delivery attempts.
        with django_assert_num_queries(5):
            assert client.get(url).status_code == 200


# --- The API ----------------------------------------------------------------------------------


def _staff_api(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


def test_the_api_reply_is_the_same_rule(chat_server, chat_case, specialist):
    api = _staff_api(specialist)
    url = f"/api/v1/cases/{chat_case.pk}/replies/"
    body = {"text": "Здравствуйте!", "request_id": "r-1"}
    first = api.post(url, body, format="json", HTTP_IF_MATCH=str(_v(chat_case)))
    assert first.status_code == 201 and first.json()["delivery_status"] == "pending"
    again = api.post(url, body, format="json", HTTP_IF_MATCH=str(_v(chat_case) - 1))
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    stale = api.post(url, {**body, "request_id": "r-2"}, format="json", HTTP_IF_MATCH="1")
    assert stale.status_code == 412
    missing = api.post(url, {"text": "Алло"}, format="json")
    assert missing.status_code == 400 and "request_id" in missing.json()
    keyed = api.post(url, {"text": "Алло"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert keyed.status_code == 201
    blank = api.post(url, {"text": "  ", "request_id": "r-3"}, format="json")
    assert blank.status_code == 400 and "text" in blank.json()
    detail = api.get(f"/api/v1/cases/{chat_case.pk}/").json()
    assert {m["delivery_status"] for m in detail["messages"]} == {"pending"}


def test_the_chat_backend_reports_the_session_state(chat_case, make_case):
    from tests.api.conftest import token_client
    from tests.conftest import _user

    api = token_client(_user("chat-backend", "integration"))
    url = f"/api/v1/cases/{chat_case.pk}/chat-state/"
    at = "2026-11-28T10:00:00+03:00"
    response = api.post(url, {"state": "timed_out", "changed_at": at}, format="json")
    assert response.status_code == 200
    assert response.json() == {"state": "timed_out", "changed_at": "2026-11-28T10:00:00+03:00",
                               "changed": True}  # fmt: skip
    older = api.post(url, {"state": "open", "changed_at": "2026-11-28T09:00:00+03:00"},
                     format="json")  # fmt: skip
    assert older.status_code == 200 and older.json()["state"] == "timed_out"
    assert not older.json()["changed"]
    bad = api.post(url, {"state": "gone"}, format="json")
    assert bad.status_code == 400 and "state" in bad.json()
    hotline = make_case()  # opened by the telephony line: not the chat backend's, not a chat
    assert api.post(f"/api/v1/cases/{hotline.pk}/chat-state/", {"state": "open"},
                    format="json").status_code == 404  # fmt: skip


def test_a_closed_case_keeps_its_conversation_without_a_reply_box(
    client, chat_server, chat_case, specialist
):
    _reply(chat_case, specialist, text="Всё сделали, спасибо.")
    Case.objects.filter(pk=chat_case.pk).update(status=Status.CLOSED)
    client.force_login(specialist)
    html = _page(client, chat_case)
    assert "Всё сделали, спасибо." in html and 'id="chat-form"' not in html


def test_the_log_shows_each_line_in_the_viewers_zone_with_its_author_escaped_and_masked(
    client, chat_case, specialist, manager, integration
):
    """The lines come from a Jinja2 template (cases/jinja2/cases/_chat_rows.html)."""
    from datetime import UTC, datetime

    from cases.models import StaffProfile, Subscriber
    from cases.services import case_append_message

    Subscriber.objects.filter(pk=chat_case.subscriber_id).update(name="Иван Сидоров")
    at = datetime(2026, 3, 10, 9, 5, tzinfo=UTC)
    case_append_message(
        case=chat_case, external_id="in-1", author=ChatMessage.Author.SUBSCRIBER,
        text="Мне звонили с 89161234567\n<b>срочно</b>", sent_at=at, actor=integration,
    )  # fmt: skip
    StaffProfile.objects.create(user=specialist, time_zone="Asia/Yekaterinburg")
    client.force_login(specialist)
    log = client.get(reverse("cases:chat_log", args=[chat_case.pk])).content.decode()
    assert '<time datetime="2026-03-10T14:05:00+05:00">10.03 14:05</time>' in log
    assert '<span class="who">Иван Сидоров</span>' in log
    assert "<br>&lt;b&gt;срочно&lt;/b&gt;" in log and "<b>срочно" not in log
    client.force_login(manager)  # no personal data: the name and the number masked
    log = client.get(reverse("cases:chat_log", args=[chat_case.pk])).content.decode()
    assert '<time datetime="2026-03-10T12:05:00+03:00">10.03 12:05</time>' in log
    assert "Иван Сидоров" not in log
    assert "&lt;b&gt;срочно&lt;/b&gt;" in log
