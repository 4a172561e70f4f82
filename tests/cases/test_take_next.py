"""«Взять следующее»: a specialist with nothing on the line takes the most urgent unassigned
case with one key; two pressing it at once never get the same case."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, CaseEvent
from cases.services import case_assign, case_take_next
from tests.conftest import _user

pytestmark = pytest.mark.django_db


def _due(case: Case, minutes: int) -> Case:
    Case.objects.filter(pk=case.pk).update(due_at=timezone.now() + timedelta(minutes=minutes))
    return Case.objects.get(pk=case.pk)


def test_it_gives_the_earliest_deadline_first_then_opens_it(client, specialist, make_case):
    later, sooner, no_deadline = make_case(), make_case(), make_case()
    _due(later, 120), _due(sooner, 15)
    Case.objects.filter(pk=no_deadline.pk).update(due_at=None)
    taken_elsewhere = _due(make_case(), 1)
    case_assign(case=taken_elsewhere, assignee=specialist, actor=specialist)
    client.force_login(specialist)
    response = client.post(reverse("cases:take_next"))
    assert response.status_code == 302 and response["Location"] == f"/cases/{sooner.pk}/"
    sooner.refresh_from_db()
    assert sooner.assignee == specialist
    assert CaseEvent.objects.filter(case=sooner, kind=CaseEvent.Kind.ASSIGNED).exists()
    assert client.post(reverse("cases:take_next"))["Location"] == f"/cases/{later.pk}/"
    assert client.post(reverse("cases:take_next"))["Location"] == f"/cases/{no_deadline.pk}/"


def test_an_empty_queue_says_so(client, specialist):
    client.force_login(specialist)
    response = client.post(reverse("cases:take_next"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("cases:mine")
    assert "Очередь пуста" in response.content.decode()


def test_the_button_is_on_every_page_of_a_specialist_only(client, specialist, supervisor):
    client.force_login(specialist)
    assert "Взять следующее" in client.get(reverse("cases:mine")).content.decode()
    client.force_login(supervisor)
    assert "Взять следующее" not in client.get(reverse("cases:list")).content.decode()
    assert client.post(reverse("cases:take_next")).status_code == 403


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="threads share one database: PostgreSQL (CI)"
)
def test_two_specialists_pressing_at_once_get_different_cases(make_case):
    cases = [make_case() for _ in range(4)]
    people = [_user(f"puller{i}", "specialist") for i in range(2)]
    barrier = threading.Barrier(len(people))
    taken: dict[str, int] = {}

    def press(user):
        from django.db import connections

        barrier.wait()
        try:
            taken[user.username] = case_take_next(actor=user).pk
        finally:
            connections.close_all()

    threads = [threading.Thread(target=press, args=(u,)) for u in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(taken.values())) == 2 and set(taken.values()) <= {c.pk for c in cases}
    for user in people:
        assert Case.objects.get(pk=taken[user.username]).assignee_id == user.pk
