"""No 500 for any input (issue 20): each payload the security probe sent gets a 4xx with a
clear message, and writes nothing."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from cases.models import Case, Subscriber
from reminders.models import Reminder
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


def test_a_token_of_raw_bytes_is_401_not_500(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=b"Token \xff\xfe".decode("latin-1"))
    assert client.get("/api/v1/cases/").status_code == 401


@pytest.mark.parametrize("zone", ["America", "x" * 300, "Europe/Nowhere", "../../etc"])
def test_an_unknown_time_zone_is_a_field_error(integration, category, zone):
    api = token_client(integration)
    body = {"channel": "hotline", "phone": "8 916 555-44-33", "category": category.slug,
            "summary": "Звонили", "time_zone": zone}  # fmt: skip
    response = api.post(
        "/api/v1/cases/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"tz-{len(zone)}-{zone[:20]}"
    )
    assert response.status_code == 400, response.content
    assert "time_zone" in response.json()
    assert not Case.objects.exists() and not Subscriber.objects.exists()


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000, '{"summary": ' + "[" * 5000 + "]" * 5000 + "}"],
    ids=["100k-open-brackets", "5000-deep-array"],
)
def test_deep_json_is_a_400(integration, body):
    api = token_client(integration)
    response = api.generic(
        "POST", "/api/v1/cases/", body, content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="deep",
    )  # fmt: skip
    assert response.status_code == 400, response.content[:200]
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("cases:list", {"date_to": "9999-12-31"}),
        ("cases:list", {"date_from": "0001-01-01", "period": "custom"}),
        ("reports:page", {"period": "day", "date": "9999-12-31"}),
        ("reports:page", {"period": "custom", "date_from": "9999-12-01", "date_to": "9999-12-31"}),
        ("reports:export_cases_csv", {"period": "day", "date": "9999-12-31", "columns": "number"}),
        ("reports:export_table_csv", {"period": "day", "date": "9999-12-31"}),
    ],
)
def test_dates_out_of_range_are_a_form_error_not_a_500(client, supervisor, url, params):
    client.force_login(supervisor)
    kwargs = {"table": "by_category"} if url == "reports:export_table_csv" else {}
    response = client.get(reverse(url, kwargs=kwargs), params)
    assert response.status_code == 400, response.status_code
    assert "Дата вне допустимого диапазона" in response.content.decode()


@pytest.mark.parametrize("path", ["", "by-day/", "summary/"])
def test_report_api_dates_out_of_range_are_a_json_400(supervisor, path):
    api = APIClient()
    api.force_login(supervisor)
    response = api.get(f"/api/v1/reports/{path}", {"period": "day", "date": "9999-12-31"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")


def test_unicode_digits_in_the_queue_assignment_are_refused(client, supervisor, make_case):
    case = make_case()
    client.force_login(supervisor)
    data = {"cases": ["²", str(case.pk)], f"v_{case.pk}": "²", "assignee": ""}
    response = client.post(reverse("cases:assign"), data)
    assert response.status_code == 302  # back to the queue; the real id was handled
    response = client.post(reverse("cases:take", args=[case.pk]), {"version": "²"})
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).assignee is None


@pytest.mark.parametrize(
    "payload",
    [
        {"reference": "fc-²", "status": "delivered"},
        {"message_id": "ab\x00cd", "status": "delivered"},
    ],
    ids=["unicode-digit-reference", "nul-in-message-id"],
)
def test_the_gateway_callback_refuses_bad_identifiers(client, settings, payload):
    settings.SMS_CALLBACK_SECRET = "s3cret"
    response = client.post(
        reverse("sms-http-dlr"), json.dumps(payload), content_type="application/json",
        HTTP_X_FRAUDCENTER_SECRET="s3cret",
    )  # fmt: skip
    assert response.status_code == 400
    assert not Reminder.objects.filter(status="delivered").exists()


@pytest.mark.parametrize(
    "path", ["/api/v1/cases/abc/", "/api/v1/cases/1/steps/x/", "/api/v1/nothing/"]
)
def test_an_api_url_that_matches_nothing_is_a_json_404(client, settings, path):
    settings.DEBUG = False
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Не найдено."}


def test_a_staff_url_that_matches_nothing_is_the_russian_page(client, settings):
    settings.DEBUG = False
    response = client.get("/cases/abc/")
    assert response.status_code == 404 and "text/html" in response["Content-Type"]
