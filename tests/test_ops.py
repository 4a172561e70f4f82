from datetime import timedelta

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_readyz_is_ok_with_no_sms_waiting(client):
    res = client.get("/readyz")
    assert res.status_code == 200, res.content
    assert res.json()["sms_backlog"] == {"due": 0, "oldest_age_seconds": 0.0}


def test_readyz_fails_when_a_due_sms_waits_too_long(client, make_case, settings):
    from reminders.models import Reminder

    case = make_case()
    Reminder.objects.create(
        case=case, subscriber=case.subscriber, text="Проверьте вход в Госуслуги",
        send_after=timezone.now() - timedelta(minutes=30), dedupe_key="t-1",
    )  # fmt: skip
    settings.SMS_BACKLOG_MAX_AGE = 600
    res = client.get("/readyz")
    assert res.status_code == 503
    assert res.json()["sms"] == "lagging" and res.json()["sms_backlog"]["due"] == 1
    settings.SMS_BACKLOG_MAX_AGE = 3600
    assert client.get("/readyz").status_code == 200


def test_metrics_are_refused_to_strangers(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.1.1.1"]
    assert client.get("/metrics").status_code == 403
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


def test_metrics_need_the_token_or_an_allowlist_judged_behind_the_proxy(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    assert client.get("/metrics").status_code == 403  # nothing configured: nobody
    settings.METRICS_ALLOWED_IPS = ["10.0.0.5"]
    # Through the local proxy: its X-Forwarded-For decides, not its own 127.0.0.1.
    proxied = {"REMOTE_ADDR": "127.0.0.1"}
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9", **proxied).status_code == 403
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.0.0.5", **proxied).status_code == 200
    # A forged header from a host that is not a trusted proxy is not believed.
    direct = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.0.0.5", **direct).status_code == 403


def test_metrics_show_requests_cases_and_sms(client, settings, make_case):
    settings.METRICS_TOKEN = "s3cret-token"
    make_case(channel="chat")
    client.get("/healthz")
    res = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert res.status_code == 200
    text = res.content.decode()
    assert 'fraudcenter_http_requests_total{method="GET",route="healthz",status="200"}' in text
    assert "fraudcenter_sms_dispatch_lag_seconds" in text
    assert 'fraudcenter_cases_open{status="new"} 1.0' in text
    assert "+7916" not in text  # no personal data
