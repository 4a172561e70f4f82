"""GET /api/v1/subscribers/lookup/?phone= — the screen pop."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.db import connection

from cases.services import case_set_status

pytestmark = pytest.mark.django_db
URL = "/api/v1/subscribers/lookup/"


@pytest.mark.parametrize("phone", ["8 916 100-00-00", "+7 (916) 100 00 00", "79161000000"])
def test_it_finds_the_subscriber_by_any_common_format(api, make_case, phone):
    make_case(phone="+79161000000")
    response = api.get(URL, {"phone": phone})
    assert response.status_code == 200
    data = response.json()
    assert data["subscriber"]["msisdn"] == "+79161000000"
    assert data["subscriber"]["time_zone"] == "Europe/Moscow"
    assert data["subscriber"]["sms_opt_out"] is False
    assert data["total_cases"] == 1
    # They are calling again: one earlier case within the window is already a repeat.
    assert data["is_repeat_victim"] is True


def test_a_case_before_the_repeat_window_is_history_not_a_repeat(api, make_case, settings):
    from datetime import timedelta

    from django.utils import timezone

    from cases.models import Case

    old = make_case(phone="+79161000000")
    long_ago = timezone.now() - timedelta(days=settings.REPEAT_VICTIM_DAYS + 1)
    Case.objects.filter(pk=old.pk).update(created_at=long_ago)
    data = api.get(URL, {"phone": "+79161000000"}).json()
    assert data["total_cases"] == 1 and data["is_repeat_victim"] is False


def test_it_shows_open_and_recent_cases_and_flags_a_repeat_victim(api, make_case, supervisor):
    old = make_case(phone="+79161000000")
    case_set_status(case=old, status="closed", outcome="duplicate", actor=supervisor)
    new = make_case(phone="+79161000000")
    data = api.get(URL, {"phone": "+79161000000"}).json()
    assert [c["id"] for c in data["open_cases"]] == [new.pk]
    assert [c["id"] for c in data["recent_cases"]] == [new.pk, old.pk]
    assert data["total_cases"] == 2
    assert data["is_repeat_victim"] is True


def test_looking_up_a_subscriber_is_written_to_the_audit_log(api, make_case, integration):
    make_case(phone="+79161000000")
    before = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).count()
    api.get(URL, {"phone": "+79161000000"})
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS).count() == before + 1


def test_an_unknown_subscriber_is_404(api):
    assert api.get(URL, {"phone": "+79169999999"}).status_code == 404


@pytest.mark.parametrize("phone", ["", "abc", "12", "+7 000 000 00 00", "1" * 40])
def test_a_malformed_number_is_400_naming_the_field(api, phone):
    response = api.get(URL, {"phone": phone})
    assert response.status_code == 400
    assert "phone" in response.json()


def test_a_missing_number_is_400(api):
    assert api.get(URL).status_code == 400


def test_refusals(client, staff_api, nobody, manager, make_case):
    make_case(phone="+79161000000")
    assert client.get(URL, {"phone": "+79161000000"}).status_code == 401
    assert staff_api(nobody).get(URL, {"phone": "+79161000000"}).status_code == 403
    assert staff_api(manager).get(URL, {"phone": "+79161000000"}).status_code == 200


@pytest.mark.parametrize("n", [1, 15])
def test_lookup_runs_the_same_queries_for_any_history(api, make_case, n,
                                                      django_assert_num_queries):  # fmt: skip
    for _ in range(n):
        make_case(phone="+79161000000")
    api.get(URL, {"phone": "+79161000000"})  # warm the content-type cache for the audit row
    # token + user (+ role names on PostgreSQL; SQLite reads the groups apart), subscriber,
    # history rows (with category, assignee and the counts as window aggregates), audit log
    # INSERT.
    with django_assert_num_queries(4 if connection.vendor == "postgresql" else 5):
        assert api.get(URL, {"phone": "+79161000000"}).status_code == 200
