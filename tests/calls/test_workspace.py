"""The specialist's side of calls: the screen pop, a case opened from it, the callbacks page;
and the API for the chat backend and wallboards."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from calls.models import Call, Callback
from calls.services import cti_endpoint_create, cti_event_parse, cti_event_record
from cases.models import Case, StaffProfile
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint():
    return cti_endpoint_create(name="pbx")[0]


def _event(endpoint, event, call_id, **extra):
    data = {
        "event": event,
        "from": "89161234567",
        "to": "611",
        "direction": "in",
        "callId": call_id,
    }
    data.update(extra)
    return cti_event_record(endpoint=endpoint, event=cti_event_parse(data), payload=data)


def test_the_answering_specialist_gets_the_callers_card_once(
    client, specialist, endpoint, make_case
):
    make_case(phone="+79161234567", summary="Звонили из «банка»")
    StaffProfile.objects.create(user=specialist, cti_extension="201")
    client.force_login(specialist)
    assert client.get(reverse("calls:pop")).status_code == 204
    _event(endpoint, "newCall", "p-1")
    assert client.get(reverse("calls:pop")).status_code == 204  # ringing is not answered
    _event(endpoint, "answer", "p-1", answeringNumber="201")
    pop = client.get(reverse("calls:pop"))
    html = pop.content.decode()
    assert pop.status_code == 200 and "+79161234567" in html and "Обращается повторно" in html
    assert "/cases/new/?call=p-1&amp;phone=%2B79161234567" in html
    assert client.get(reverse("calls:pop")).status_code == 204  # once


def test_an_anonymous_caller_pops_too(client, specialist, endpoint):
    StaffProfile.objects.create(user=specialist, cti_extension="201")
    client.force_login(specialist)
    _event(endpoint, "answer", "a-1", answeringNumber="201", **{"from": "anonymous"})
    html = client.get(reverse("calls:pop")).content.decode()
    assert "номер скрыт" in html and "/cases/new/?call=a-1" in html


def test_the_screen_pop_costs_three_queries_when_nothing_is_new(
    client, specialist, django_assert_num_queries
):
    client.force_login(specialist)
    # session, user, the answered-and-not-shown call (none)
    with django_assert_num_queries(3):
        assert client.get(reverse("calls:pop")).status_code == 204


def test_a_case_opened_from_the_pop_carries_the_call(client, specialist, endpoint, category):
    StaffProfile.objects.create(user=specialist, cti_extension="201")
    _event(endpoint, "newCall", "c-1")
    _event(endpoint, "answer", "c-1", answeringNumber="201")
    client.force_login(specialist)
    form = client.get(
        reverse("cases:new"), {"phone": "+79161234567", "call": "c-1"}
    ).content.decode()
    assert 'name="call_id" value="c-1"' in form and 'value="+79161234567"' in form
    response = client.post(
        reverse("cases:new"),
        {
            "phone": "+79161234567",
            "call_id": "c-1",
            "category": category.pk,
            "channel": "hotline",
            "summary": "Просили код из SMS",
        },  # fmt: skip
    )
    assert response.status_code == 302
    case = Case.objects.get(external_id="c-1")
    assert Call.objects.get(call_id="c-1").case == case
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert 'id="calls"' in page and "входящий" in page


def test_a_specialist_logs_attempts_and_the_third_failure_goes_to_the_supervisor(
    client, specialist, endpoint, settings
):
    settings.CALLBACK_MAX_ATTEMPTS = 3
    _event(endpoint, "newCall", "x-1")
    _event(endpoint, "hangup", "x-1", cause="cancel")
    callback = Callback.objects.get()
    assert timedelta(minutes=14) < callback.due_at - timezone.now() <= timedelta(minutes=15)
    client.force_login(specialist)
    page = client.get(reverse("calls:callbacks")).content.decode()
    assert "+79161234567" in page and "не отвечает" in page
    for result in ["no_answer", "busy", "no_answer"]:
        callback.refresh_from_db()
        client.post(
            reverse("calls:attempt", args=[callback.pk]),
            {"result": result, "version": callback.version},
        )
    callback.refresh_from_db()
    assert callback.status == "escalated" and callback.attempts.count() == 3
    # A stale page: refused, nothing recorded.
    stale = client.post(
        reverse("calls:attempt", args=[callback.pk]),
        {"result": "reached", "version": 1},
        follow=True,
    )
    assert "уже изменил другой сотрудник" in stale.content.decode()
    assert callback.attempts.count() == 3


def test_a_manager_may_not_work_callbacks(client, manager, endpoint):
    _event(endpoint, "hangup", "y-1", cause="cancel")
    client.force_login(manager)
    assert client.get(reverse("calls:callbacks")).status_code == 403
    assert (
        client.post(
            reverse("calls:attempt", args=[Callback.objects.get().pk]), {"result": "reached"}
        ).status_code
        == 403
    )


def test_the_calls_api_filters_and_masks_for_a_manager(endpoint, integration, manager, client):
    _event(endpoint, "newCall", "api-1")
    _event(endpoint, "hangup", "api-1", cause="cancel")
    _event(endpoint, "newCall", "api-2", **{"from": "+79035550101"})
    _event(endpoint, "answer", "api-2", **{"from": "+79035550101"})
    api = token_client(integration)
    everything = api.get("/api/v1/calls/").json()["results"]
    assert [c["call_id"] for c in everything] == ["api-2", "api-1"]
    missed = api.get("/api/v1/calls/", {"missed": "true"}).json()["results"]
    assert [c["call_id"] for c in missed] == ["api-1"] and missed[0]["missed"] is True
    by_phone = api.get("/api/v1/calls/", {"phone": "8 903 555-01-01"}).json()["results"]
    assert [c["call_id"] for c in by_phone] == ["api-2"]
    assert api.get("/api/v1/calls/", {"phone": "abc"}).status_code == 400
    callbacks = api.get("/api/v1/callbacks/").json()
    assert callbacks[0]["msisdn"] == "+79161234567" and callbacks[0]["missed_calls"] == 1
    client.force_login(manager)
    masked = client.get("/api/v1/calls/").json()["results"]
    assert masked[0]["msisdn"] == "+7 903 ***-**-01"


def test_callbacks_sit_in_the_queue_and_are_auto_assigned_like_cases(
    client, supervisor, specialist, endpoint, make_case
):
    from cases.services import staff_set_absence
    from tests.conftest import _user

    on_break = _user("on-break", "specialist")
    staff_set_absence(actor=supervisor, user=on_break, minutes=15)
    StaffProfile.objects.create(user=specialist, max_open_cases=2)
    for n, phone in enumerate(["89161234567", "89161234568", "89161234569"]):
        _event(endpoint, "newCall", f"q-{n}", **{"from": phone})
        _event(endpoint, "hangup", f"q-{n}", cause="cancel", **{"from": phone})
    client.force_login(supervisor)
    assert 'hx-get="/calls/queue/"' in client.get(reverse("cases:queue")).content.decode()
    fragment = client.get(reverse("calls:queue")).content.decode()
    assert fragment.count("<tr class=") == 3 and "Распределить перезвоны" in fragment
    client.post(reverse("calls:auto_assign"))
    # The cap of 2 holds, the one on a break gets none, the earliest deadlines go first.
    assigned = Callback.objects.filter(assignee__isnull=False).order_by("due_at")
    assert [c.assignee for c in assigned] == [specialist, specialist]
    assert Callback.objects.filter(assignee__isnull=True).count() == 1


def test_the_queue_section_is_one_query_after_the_session(
    client, supervisor, endpoint, django_assert_num_queries
):
    for n in range(5):
        _event(endpoint, "hangup", f"z-{n}", cause="cancel", **{"from": f"8916123456{n}"})
    client.force_login(supervisor)
    # session, the user with its roles (one query); the callbacks with subscriber, assignee
    # and attempts counted
    with django_assert_num_queries(3):
        assert client.get(reverse("calls:queue")).status_code == 200


def test_the_queue_section_is_rendered_once_for_every_supervisor_with_the_same_rights(
    client, supervisor, manager, endpoint, django_assert_num_queries
):
    """Every supervisor polls it with the board: one rendering per QUEUE_PART_CACHE_SECONDS
    for those with the same rights, each with their own CSRF token in the button's form."""
    from django.contrib.auth.models import Group, User

    other = User.objects.create_user("super2")
    other.groups.add(Group.objects.get(name="supervisor"))
    _event(endpoint, "hangup", "s-1", cause="cancel", **{"from": "89161234560"})
    client.force_login(supervisor)
    first = client.get(reverse("calls:queue")).content.decode()
    client.force_login(other)
    # session, the user with its roles (one query): the section from the cache
    with django_assert_num_queries(2):
        again = client.get(reverse("calls:queue")).content.decode()
    tokens = [re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', h) for h in (first, again)]
    assert tokens[0] and tokens[1] and "__csrf" not in again
    assert again.replace(tokens[1][0], "") == first.replace(tokens[0][0], "")
    assert "+7 916 123-45-60" in again or "9161234560" in again
    client.force_login(manager)  # other rights (no assigning, masked numbers): its own part
    masked = client.get(reverse("calls:queue")).content.decode()
    assert "Распределить перезвоны" not in masked and "***" in masked


# At noon in Moscow: half an hour ago must be today there (CI runs at any hour).
@time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("Europe/Moscow")))
def test_the_calls_report_counts_shares_median_wait_and_callbacks(
    client, manager, specialist, endpoint
):
    from reports.filters import ReportFilter, today_in_moscow
    from reports.selectors import calls_summary

    StaffProfile.objects.create(user=specialist, cti_extension="201")
    base = timezone.now() - timedelta(minutes=30)
    for n in range(4):
        _event(endpoint, "newCall", f"r-{n}", **{"from": f"8916123450{n}"})
        if n < 3:
            _event(
                endpoint, "answer", f"r-{n}", answeringNumber="201", **{"from": f"8916123450{n}"}
            )
        _event(endpoint, "hangup", f"r-{n}", cause="normalClearing", **{"from": f"8916123450{n}"})
    # Waits of 10, 20 and 30 seconds: the median is 20.
    for n, wait in enumerate([10, 20, 30]):
        Call.objects.filter(call_id=f"r-{n}").update(
            rang_at=base, answered_at=base + timedelta(seconds=wait)
        )
    Call.objects.filter(call_id="r-3").update(rang_at=base)
    callback = Callback.objects.get()
    client.force_login(specialist)
    Callback.objects.filter(pk=callback.pk).update(created_at=base)
    client.post(reverse("calls:attempt", args=[callback.pk]), {"result": "reached"})
    today = today_in_moscow()
    figures = calls_summary(ReportFilter(date_from=today, date_to=today))
    assert (figures["inbound"], figures["answered"], figures["missed"]) == (4, 3, 1)
    assert figures["answered_share"] == 75.0 and figures["missed_share"] == 25.0
    assert figures["median_wait"] == 20
    assert figures["callbacks"] == 1 and figures["callbacks_reached_share"] == 100.0
    assert figures["callbacks_first_attempt_median"] >= 29 * 60
    assert sum(h["total"] for h in figures["by_hour"]) == 4 and len(figures["by_hour"]) == 24
    client.force_login(manager)
    page = client.get(reverse("reports:page")).content.decode()
    assert "Звонки на 611" in page and ("(75.0 %)" in page or "(75,0 %)" in page)
    api = client.get("/api/v1/reports/calls/").json()["calls"]
    assert api["missed"] == 1
