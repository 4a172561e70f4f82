import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from cases.models import Subscriber
from cases.services import case_assign
from reminders.models import Reminder

pytestmark = pytest.mark.django_db
S = Reminder.Status


@pytest.fixture(autouse=True)
def daytime():
    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))):
        yield


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _list_url(case) -> str:
    return reverse("api-case-reminders", args=[case.pk])


def test_a_specialist_schedules_an_sms_and_a_retry_with_the_same_request_id_is_the_same(
    sms_case, specialist
):
    case = sms_case()
    body = {"text": "Обращение принято. Никому не называйте коды.", "request_id": "r-1"}
    first = _api(specialist).post(_list_url(case), body, format="json")
    again = _api(specialist).post(_list_url(case), body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["parts"] == 1 and first.json()["characters"] == len(body["text"])
    assert first.json()["status"] == "scheduled" and first.json()["cancellable"] is True
    other = _api(specialist).post(_list_url(case), {**body, "text": "Иное"}, format="json")
    assert other.status_code == 422
    assert Reminder.objects.filter(case=case, step=None).count() == 1


def test_the_idempotency_key_header_works_as_the_request_id(sms_case, specialist):
    case = sms_case()
    client = _api(specialist)
    for expected in (201, 200):
        response = client.post(
            _list_url(case), {"text": "Текст"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
        assert response.status_code == expected
    assert Reminder.objects.filter(case=case, step=None).count() == 1


def test_it_refuses_bad_input_with_per_field_messages_and_saves_nothing(sms_case, specialist):
    case = sms_case()
    response = _api(specialist).post(
        _list_url(case), {"text": "Перейдите по ссылке https://x.ru"}, format="json"
    )
    assert response.status_code == 400 and set(response.json()) == {"request_id", "text"}
    response = _api(specialist).post(
        _list_url(case), {"text": "Зайдите на www.example.com", "request_id": "r"}, format="json"
    )
    assert response.status_code == 400
    assert "ссылок" in response.json()["text"][0]
    response = _api(specialist).post(
        _list_url(case), {"text": "Ок", "request_id": "r2", "send_after": "завтра"}, format="json"
    )
    assert response.status_code == 400 and "send_after" in response.json()
    assert not Reminder.objects.filter(case=case, step=None).exists()


def test_the_list_shows_status_and_parts_in_a_fixed_number_of_queries(
    sms_case, specialist, django_assert_max_num_queries
):
    case = sms_case()
    for i in range(5):
        _api(specialist).post(
            _list_url(case), {"text": "Длинный текст. " * 6, "request_id": f"r{i}"}, format="json"
        )
    client = _api(specialist)
    # roles of the user (groups), the case with its subscriber, the reminders with step+author
    with django_assert_max_num_queries(3):
        response = client.get(_list_url(case))
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 6 and {r["parts"] for r in rows} == {1, 2}
    assert rows[0]["status_display"] == "Запланировано"


def test_integrations_and_managers_read_but_cannot_schedule_or_cancel(
    sms_case, integration, manager
):
    case = sms_case()
    reminder = Reminder.objects.get(case=case)
    cancel = reverse("api-reminder-cancel", args=[case.pk, reminder.pk])
    for user in (integration, manager):
        assert _api(user).get(_list_url(case)).status_code == 200
        post = _api(user).post(_list_url(case), {"text": "Т", "request_id": "x"}, format="json")
        assert post.status_code == 403
        assert _api(user).post(cancel).status_code == 403
    assert Reminder.objects.get(pk=reminder.pk).status == S.SCHEDULED


def test_someone_elses_specialist_and_strangers_are_refused(
    sms_case, specialist, specialist2, supervisor, nobody
):
    case = sms_case()
    case_assign(case=case, assignee=specialist, actor=supervisor)
    body = {"text": "Текст", "request_id": "x"}
    assert _api(specialist2).post(_list_url(case), body, format="json").status_code == 403
    assert _api(nobody).get(_list_url(case)).status_code == 403
    assert APIClient().get(_list_url(case)).status_code in (401, 403)
    assert _api(supervisor).post(_list_url(case), body, format="json").status_code == 201
    assert _api(specialist).get(reverse("api-case-reminders", args=[999999])).status_code == 404


def test_a_knox_token_works_for_an_integration_read(sms_case, integration):
    case = sms_case()
    _instance, token = AuthToken.objects.create(integration)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(_list_url(case)).status_code == 200


def test_cancel_works_once_and_a_sent_sms_cannot_be_cancelled(sms_case, specialist):
    case = sms_case()
    reminder = Reminder.objects.get(case=case)
    url = reverse("api-reminder-cancel", args=[case.pk, reminder.pk])
    response = _api(specialist).post(url)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    other = sms_case()
    sent = Reminder.objects.get(case=other)
    Reminder.objects.filter(pk=sent.pk).update(status=S.SENT)
    response = _api(specialist).post(reverse("api-reminder-cancel", args=[other.pk, sent.pk]))
    assert response.status_code == 409 and "Отправлено" in response.json()["detail"]
    # a reminder of another case through this case's URL: not found
    assert (
        _api(specialist).post(reverse("api-reminder-cancel", args=[case.pk, sent.pk])).status_code
        == 404
    )


# --- gateway callbacks ----------------------------------------------------------------------


def _callback(client, name, payload, secret="s3cret"):
    return client.post(
        reverse(name), json.dumps(payload), content_type="application/json",
        HTTP_X_FRAUDCENTER_SECRET=secret,
    )  # fmt: skip


def test_an_inbound_stop_opts_the_subscriber_out_and_skips_what_is_pending(
    client, settings, sms_case
):
    settings.SMS_CALLBACK_SECRET = "s3cret"
    case = sms_case(phone="+79165550011")
    wrong = _callback(client, "sms-http-inbound", {"from": "89165550011", "text": "СТОП"}, "no")
    assert wrong.status_code == 403
    assert not Subscriber.objects.get(pk=case.subscriber_id).sms_opt_out
    hello = _callback(client, "sms-http-inbound", {"from": "89165550011", "text": "Спасибо"})
    assert hello.json() == {"opt_out": False}
    stop = _callback(client, "sms-http-inbound", {"from": "89165550011", "text": " Стоп "})
    assert stop.status_code == 200 and stop.json() == {"opt_out": True}
    assert Subscriber.objects.get(pk=case.subscriber_id).sms_opt_out
    assert Reminder.objects.get(case=case).status == S.SKIPPED_OPT_OUT
    bad = _callback(client, "sms-http-inbound", {"from": "12", "text": "стоп"})
    assert bad.status_code == 400


def test_callbacks_are_refused_when_no_secret_is_configured(client, settings):
    settings.SMS_CALLBACK_SECRET = ""
    assert _callback(client, "sms-http-dlr", {"reference": "fc-1"}, "").status_code == 403


def test_a_delivery_report_marks_the_reminder_delivered(client, settings, sms_case):
    settings.SMS_CALLBACK_SECRET = "s3cret"
    reminder = Reminder.objects.get(case=sms_case())
    Reminder.objects.filter(pk=reminder.pk).update(status=S.SENT, gateway_message_id="gw-7")
    bad = _callback(client, "sms-http-dlr", {"message_id": "gw-7", "status": "maybe"})
    assert bad.status_code == 400
    ok = _callback(client, "sms-http-dlr", {"message_id": "gw-7", "status": "delivered"})
    assert ok.json() == {"matched": 1}
    assert Reminder.objects.get(pk=reminder.pk).status == S.DELIVERED
    assert client.get(reverse("sms-http-dlr")).status_code == 405
