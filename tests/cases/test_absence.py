"""Breaks and planned absences: taken by the specialist or marked by a supervisor, honoured
by auto-assignment, shown on the queue; assigning to someone away or at their cap asks first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Absence, Case, StaffProfile
from cases.services import cases_auto_assign, staff_set_absence
from tests.conftest import _user

pytestmark = pytest.mark.django_db


def _break(client, who, minutes="15", **extra):
    return client.post(
        reverse("cases:absence"), {"user": who.pk, "action": "break", "minutes": minutes, **extra}
    )


def test_a_specialist_goes_on_a_break_and_comes_back_from_my_cases(client, specialist):
    client.force_login(specialist)
    assert "На перерыв" in client.get(reverse("cases:mine")).content.decode()
    response = _break(client, specialist, next=reverse("cases:mine"))
    assert response.status_code == 302 and response["Location"] == reverse("cases:mine")
    absence = Absence.objects.get(user=specialist)
    assert timedelta(minutes=14) < absence.ends_at - timezone.now() <= timedelta(minutes=15)
    html = client.get(reverse("cases:mine")).content.decode()
    assert "Я вернулся(ась)" in html and "перерыв до" in html
    client.post(reverse("cases:absence"), {"user": specialist.pk, "action": "back"})
    absence.refresh_from_db()
    assert absence.ends_at <= timezone.now()
    assert "На перерыв" in client.get(reverse("cases:mine")).content.decode()


def test_a_specialist_may_not_mark_someone_else_away(client, specialist):
    colleague = _user("colleague", "specialist")
    client.force_login(specialist)
    assert _break(client, colleague).status_code == 403
    assert not Absence.objects.exists()


def test_auto_assignment_passes_over_someone_on_a_break_until_they_are_back(
    client, supervisor, specialist, make_case
):
    on_break = _user("on-break", "specialist")
    staff_set_absence(actor=supervisor, user=on_break, minutes=15)
    cases = [make_case() for _ in range(3)]
    assigned = cases_auto_assign(actor=supervisor)
    assert {c.assignee_id for c in assigned} == {specialist.pk}
    client.force_login(supervisor)
    html = client.get(reverse("cases:queue")).content.decode()
    assert "перерыв до" in html and "вернулся" in html
    client.post(reverse("cases:absence"), {"user": on_break.pk, "action": "back"})
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(assignee=None)
    assert on_break.pk in {c.assignee_id for c in cases_auto_assign(actor=supervisor)}


def test_a_planned_window_counts_only_while_it_lasts(client, supervisor, specialist, make_case):
    now = timezone.localtime()
    client.force_login(supervisor)
    fmt = "%Y-%m-%dT%H:%M"
    later = {
        "starts_at": (now + timedelta(hours=2)).strftime(fmt),
        "ends_at": (now + timedelta(hours=3)).strftime(fmt),
    }
    client.post(reverse("cases:absence"), {"user": specialist.pk, "action": "planned", **later})
    make_case()
    assert cases_auto_assign(actor=supervisor), "a window in two hours does not stop anyone now"
    now_window = {
        "starts_at": (now - timedelta(hours=1)).strftime(fmt),
        "ends_at": (now + timedelta(hours=1)).strftime(fmt),
    }
    client.post(
        reverse("cases:absence"), {"user": specialist.pk, "action": "planned", **now_window}
    )
    make_case()
    assert cases_auto_assign(actor=supervisor) == []
    assert "плановое отсутствие" in str(Absence.objects.filter(user=specialist).last())


def test_a_window_ending_before_it_starts_is_refused_in_russian(client, supervisor, specialist):
    client.force_login(supervisor)
    response = client.post(
        reverse("cases:absence"),
        {
            "user": specialist.pk,
            "action": "planned",
            "starts_at": "2030-01-02T10:00",
            "ends_at": "2030-01-02T09:00",
        },
        follow=True,
    )
    assert "Конец отсутствия раньше начала." in response.content.decode()
    assert not Absence.objects.exists()


def test_assigning_to_someone_away_asks_first_and_loses_nothing(
    client, supervisor, specialist, make_case
):
    cases = [make_case(), make_case()]
    staff_set_absence(actor=supervisor, user=specialist, minutes=30)
    client.force_login(supervisor)
    posted = {"cases": [c.pk for c in cases], "assignee": specialist.pk, "next": "/queue/"}
    response = client.post(reverse("cases:assign"), posted)
    html = response.content.decode()
    assert response.status_code == 200 and "Подтвердите назначение" in html
    assert "сейчас отсутствует" in html and "Всё равно назначить" in html
    assert not Case.objects.filter(assignee=specialist).exists()
    # The confirmation carries everything that was posted.
    for c in cases:
        assert f'name="cases" value="{c.pk}"' in html
    response = client.post(reverse("cases:assign"), {**posted, "confirm": "1"})
    assert response.status_code == 302
    assert Case.objects.filter(assignee=specialist).count() == 2


def test_assigning_past_the_cap_asks_first(client, supervisor, specialist, make_case):
    StaffProfile.objects.create(user=specialist, max_open_cases=1)
    cases = [make_case(), make_case()]
    client.force_login(supervisor)
    html = client.post(
        reverse("cases:assign"), {"cases": [c.pk for c in cases], "assignee": specialist.pk}
    ).content.decode()
    assert "станет 2 открытых обращений при пределе 1" in html


def test_an_ordinary_assignment_does_not_ask(client, supervisor, specialist, make_case):
    client.force_login(supervisor)
    response = client.post(
        reverse("cases:assign"), {"cases": [make_case().pk], "assignee": specialist.pk}
    )
    assert response.status_code == 302


def test_the_queue_refreshes_itself_and_keeps_the_checked_boxes(client, supervisor, make_case):
    case = make_case()
    client.force_login(supervisor)
    html = client.get(reverse("cases:queue")).content.decode()
    assert 'id="queue-rows" hx-get="/queue/?part=rows" hx-trigger="every 10s"' in html
    assert f'id="pick-{case.pk}" hx-preserve="true"' in html
    assert 'id="staff-rows" hx-get="/queue/?part=staff" hx-trigger="every 30s"' in html
    # The board's poll gets the rows and the counts, not the specialists' list.
    rows = client.get(reverse("cases:queue") + "?part=rows", HTTP_HX_REQUEST="true")
    rows_html = rows.content.decode()
    assert f'id="pick-{case.pk}"' in rows_html and 'id="queue-counts"' in rows_html
    assert 'id="staff' not in rows_html and "<html" not in rows_html
    staff = client.get(reverse("cases:queue") + "?part=staff", HTTP_HX_REQUEST="true")
    staff_html = staff.content.decode()
    assert 'id="staff-rows"' in staff_html and "queue-rows" not in staff_html
    assert 'id="staff-q"' not in staff_html  # the search form stays while its results refresh
