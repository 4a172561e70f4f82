"""The supervisor's queue board, assignment, auto-assignment and availability."""

import re
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db import close_old_connections, connection
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, CaseEvent, StaffProfile
from cases.roles import Role
from cases.services import case_assign, cases_auto_assign, staff_set_availability

pytestmark = pytest.mark.django_db


# --- Auto-assign (the service) ----------------------------------------------------------------


def test_auto_assign_gives_each_case_to_the_least_loaded_available_specialist(
    make_case, supervisor, specialist, specialist2
):
    busy = [case_assign(case=make_case(), assignee=specialist, actor=supervisor) for _ in range(2)]
    queue = [make_case() for _ in range(3)]
    assigned = cases_auto_assign(actor=supervisor, limit=10)
    assert {c.pk for c in assigned} == {c.pk for c in queue}
    loads = {
        u.pk: Case.objects.open().filter(assignee=u).count() for u in (specialist, specialist2)
    }
    # 2 + 3 new spread evenly: specialist2 catches up first.
    assert loads == {specialist.pk: 2 + 1, specialist2.pk: 2} or loads == {
        specialist.pk: 2,
        specialist2.pk: 3,
    }
    assert len(busy) == 2


def test_auto_assign_takes_the_most_urgent_and_earliest_deadline_first(
    make_case, supervisor, specialist
):
    StaffProfile.objects.create(user=specialist, max_open_cases=2)
    low = make_case()
    urgent = make_case(code_disclosed=True)
    soon = make_case()
    Case.objects.filter(pk=soon.pk).update(due_at=timezone.now() + timedelta(minutes=5))
    Case.objects.filter(pk=low.pk).update(due_at=timezone.now() + timedelta(hours=5))
    assigned = cases_auto_assign(actor=supervisor, limit=10)
    assert [c.pk for c in assigned] == [urgent.pk, soon.pk]


def test_auto_assign_respects_the_cap_and_skips_absent_specialists(
    make_case, supervisor, specialist, specialist2
):
    StaffProfile.objects.create(user=specialist, max_open_cases=2)
    StaffProfile.objects.create(user=specialist2, is_available=False)
    for _ in range(5):
        make_case()
    assigned = cases_auto_assign(actor=supervisor, limit=10)
    assert len(assigned) == 2 and {c.assignee_id for c in assigned} == {specialist.pk}
    assert Case.objects.filter(assignee__isnull=True).count() == 3
    assert cases_auto_assign(actor=supervisor, limit=10) == []


def test_auto_assign_writes_an_assignment_event_per_case(make_case, supervisor, specialist):
    case = make_case()
    cases_auto_assign(actor=supervisor)
    event = CaseEvent.objects.get(case=case, kind="assigned")
    assert event.actor == supervisor and event.data["new"] == specialist.pk


def test_only_a_supervisor_may_auto_assign_or_set_availability(
    make_case, specialist, manager, specialist2
):
    make_case()
    for user in (specialist, manager):
        with pytest.raises(PermissionDenied):
            cases_auto_assign(actor=user)
        with pytest.raises(PermissionDenied):
            staff_set_availability(actor=user, user=specialist2, is_available=False)
    assert not Case.objects.filter(assignee__isnull=False).exists()


def _specialists(n: int) -> list[User]:
    group = Group.objects.get(name=Role.SPECIALIST)
    users = []
    for i in range(n):
        user = User.objects.create(username=f"load{i}")
        user.groups.add(group)
        StaffProfile.objects.create(user=user, max_open_cases=5)
        users.append(user)
    return users


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_supervisors_auto_assigning_at_once_never_double_assign_or_exceed_a_cap(
    make_case, supervisor
):
    team = _specialists(3)  # 3 × cap 5 = 15 places for 40 cases
    for _ in range(40):
        make_case()
    second = User.objects.create_user("super2", password="x-Secret-611")
    second.groups.add(Group.objects.get(name=Role.SUPERVISOR))
    barrier = threading.Barrier(2)
    results: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def run(actor: User) -> None:
        try:
            barrier.wait(timeout=10)
            results[actor.username] = [c.pk for c in cases_auto_assign(actor=actor, limit=40)]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(u,)) for u in (supervisor, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    close_old_connections()
    assert not errors, errors
    claimed = results["super"] + results["super2"]
    assert len(claimed) == len(set(claimed)) == 15
    per_case = CaseEvent.objects.filter(kind="assigned").values_list("case_id", flat=True)
    assert len(per_case) == len(set(per_case)) == 15
    for user in team:
        assert Case.objects.open().filter(assignee=user).count() == 5


# --- The board and its forms ------------------------------------------------------------------


def test_the_board_highlights_overdue_and_at_risk_cases_and_shows_the_load(
    client, supervisor, specialist, make_case
):
    overdue = make_case()
    at_risk = make_case()
    Case.objects.filter(pk=overdue.pk).update(due_at=timezone.now() - timedelta(minutes=5))
    Case.objects.filter(pk=at_risk.pk).update(due_at=timezone.now() + timedelta(minutes=10))
    case_assign(case=make_case(), assignee=specialist, actor=supervisor)
    client.force_login(supervisor)
    html = client.get(reverse("cases:queue")).content.decode()
    assert "просрочено: 1" in html and "под угрозой (30 мин): 1" in html
    assert '<tr class="overdue">' in html and '<tr class="at-risk">' in html
    assert html.index(overdue.number) < html.index(at_risk.number)
    assert "1 / 15" in html and "на смене" in html
    assert "Распределить автоматически" in html


def test_a_supervisor_assigns_several_cases_at_once(client, supervisor, specialist, make_case):
    cases = [make_case() for _ in range(3)]
    client.force_login(supervisor)
    response = client.post(
        reverse("cases:assign"), {"cases": [c.pk for c in cases], "assignee": specialist.pk}
    )
    assert response.status_code == 302
    assert Case.objects.filter(assignee=specialist).count() == 3


def test_an_assignment_with_a_stale_version_is_refused_and_reported(
    client, supervisor, specialist, specialist2, make_case
):
    case = make_case()
    stale = case.version
    case_assign(case=case, assignee=specialist2, actor=supervisor)
    client.force_login(supervisor)
    response = client.post(
        reverse("cases:assign"),
        {"cases": [case.pk], "assignee": specialist.pk, f"v_{case.pk}": stale},
        follow=True,
    )
    assert "уже изменил другой сотрудник" in response.content.decode()
    assert Case.objects.get(pk=case.pk).assignee == specialist2


def test_assigning_with_nothing_checked_says_so(client, supervisor, specialist):
    client.force_login(supervisor)
    response = client.post(reverse("cases:assign"), {"assignee": specialist.pk}, follow=True)
    assert "Отметьте хотя бы одно обращение." in response.content.decode()


def test_the_auto_assign_button_distributes_the_queue(client, supervisor, specialist, make_case):
    make_case()
    client.force_login(supervisor)
    response = client.post(reverse("cases:auto_assign"), follow=True)
    assert "Распределено обращений: 1." in response.content.decode()
    assert Case.objects.get().assignee == specialist


def test_a_supervisor_marks_a_specialist_absent_and_back(client, supervisor, specialist):
    client.force_login(supervisor)
    url = reverse("cases:availability")
    client.post(url, {"user": specialist.pk, "is_available": "0"})
    assert StaffProfile.objects.get(user=specialist).is_available is False
    client.post(url, {"user": specialist.pk, "is_available": "1"})
    assert StaffProfile.objects.get(user=specialist).is_available is True


def test_a_manager_sees_the_board_without_forms_and_every_post_is_refused(
    client, manager, specialist, make_case
):
    case = make_case()
    client.force_login(manager)
    response = client.get(reverse("cases:queue"))
    main = response.content.decode().split("<main>")[1]
    # Only the staff table's search (a GET form): nothing that writes.
    assert response.status_code == 200 and case.number in main
    assert 'method="post"' not in main and main.count("<form") == 1
    posts = [
        ("cases:assign", {"cases": [case.pk], "assignee": specialist.pk}),
        ("cases:auto_assign", {}),
        ("cases:availability", {"user": specialist.pk, "is_available": "0"}),
    ]
    for name, data in posts:
        assert client.post(reverse(name), data).status_code == 403, name
    assert Case.objects.get().assignee is None
    assert not StaffProfile.objects.filter(is_available=False).exists()


def test_a_specialist_cannot_reach_the_board_or_its_actions(client, specialist, make_case):
    case = make_case()
    client.force_login(specialist)
    response = client.get(reverse("cases:queue"))
    assert response.status_code == 403 and "Нет доступа" in response.content.decode()
    for name, data in [
        ("cases:assign", {"cases": [case.pk], "assignee": specialist.pk}),
        ("cases:auto_assign", {}),
        ("cases:availability", {"user": specialist.pk, "is_available": "0"}),
    ]:
        assert client.post(reverse(name), data).status_code == 403, name
    assert Case.objects.get().assignee is None


@pytest.mark.parametrize("n", [1, 30])
def test_the_board_runs_the_same_queries_for_any_number_of_cases_and_people(
    client, supervisor, make_case, n, django_assert_num_queries
):
    team = _specialists(n)
    for i in range(n):
        make_case()
        case_assign(case=make_case(), assignee=team[i % len(team)], actor=supervisor)
    client.force_login(supervisor)
    # session, the user with its roles (one query); view_queue and assign_case are rules'
    # yes (no query); the center's counts of specialists; a page of them with load and
    # profile; unassigned cases with subscriber and category; overdue and at-risk counts
    # (each capped at 1000 rows). The assignment's select loads the specialists when opened.
    with django_assert_num_queries(7):
        assert client.get(reverse("cases:queue")).status_code == 200
    # The board's poll: session, the user with its roles; unassigned cases; the two counts.
    with django_assert_num_queries(5):
        poll = client.get(reverse("cases:queue") + "?part=rows", HTTP_HX_REQUEST="true")
        assert poll.status_code == 200
    # The staff's poll: session, the user with its roles; the counts; a page of specialists.
    with django_assert_num_queries(4):
        poll = client.get(reverse("cases:queue") + "?part=staff", HTTP_HX_REQUEST="true")
        assert poll.status_code == 200


def test_the_board_caps_its_counts_instead_of_counting_a_huge_backlog(
    client, supervisor, make_case, monkeypatch
):
    from cases import selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    for _ in range(3):
        case = make_case()
        Case.objects.filter(pk=case.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    client.force_login(supervisor)
    assert "просрочено: 2+" in client.get(reverse("cases:queue")).content.decode()


def test_the_boards_poll_is_rendered_once_for_every_supervisor_with_the_same_rights(
    client, supervisor, specialist, make_case, django_assert_num_queries
):
    """200 supervisors poll the same board: one render per QUEUE_PART_CACHE_SECONDS for all,
    with each one's own CSRF token in the staff's forms."""
    other = User.objects.create_user("super2")
    other.groups.add(Group.objects.get(name="supervisor"))
    case = make_case()
    client.force_login(supervisor)
    first = client.get(reverse("cases:queue") + "?part=rows", HTTP_HX_REQUEST="true")
    assert f'id="pick-{case.pk}"' in first.content.decode()
    staff_first = client.get(reverse("cases:queue") + "?part=staff", HTTP_HX_REQUEST="true")
    client.force_login(other)
    # session, the user with its roles: the board and the staff's load come from the cache.
    with django_assert_num_queries(2):
        again = client.get(reverse("cases:queue") + "?part=rows", HTTP_HX_REQUEST="true")
    assert again.content == first.content
    with django_assert_num_queries(2):
        staff = client.get(reverse("cases:queue") + "?part=staff", HTTP_HX_REQUEST="true")
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', staff.content.decode())
    assert tokens and "__csrf" not in staff.content.decode()
    # The token works for this supervisor: a break from the cached form is accepted.
    client.handler.enforce_csrf_checks = True
    specialist_pk = int(re.findall(r'name="user" value="(\d+)"', staff.content.decode())[0])
    response = client.post(
        reverse("cases:absence"),
        {"csrfmiddlewaretoken": tokens[0], "user": specialist_pk, "action": "break",
         "minutes": 15},
    )  # fmt: skip
    assert response.status_code == 302
    assert staff_first.status_code == 200


def test_the_staff_table_shows_each_specialists_shift_with_its_forms(
    client, supervisor, specialist, specialist2, make_case
):
    """The rows come from a Jinja2 template (cases/jinja2/cases/_staff_rows.html): the same
    markup as the page's engine made — the load, the deadline, the shift, a break until when,
    and for a supervisor the forms, each with the request's CSRF token."""
    from cases.models import Absence

    case_assign(case=make_case(), assignee=specialist, actor=supervisor)
    now = timezone.now()
    Absence.objects.create(
        user=specialist2, kind="break", starts_at=now, ends_at=now + timedelta(minutes=15)
    )
    client.force_login(supervisor)
    html = client.get(reverse("cases:queue"), {"part": "staff"}, HTTP_HX_REQUEST="true")
    html = html.content.decode()
    rows = re.findall(r"<tr class=\"[^\"]*\">.*?</tr>", html, re.S)
    mine = next(r for r in rows if f"?assignee={specialist.pk}&amp;status=open" in r)
    theirs = next(r for r in rows if f"?assignee={specialist2.pk}&amp;status=open" in r)
    assert "1 / 15" in mine and "на смене" in mine
    assert f'aria-label="Отметить отсутствие: {specialist.username}"' in mine
    assert f'aria-label="Перерыв 15 минут: {specialist.username}"' in mine
    local_end = timezone.localtime(now + timedelta(minutes=15)).strftime("%H:%M")
    assert f"перерыв до {local_end}" in theirs
    assert f'aria-label="Вернулся: {specialist2.username}"' in theirs
    assert html.count('name="csrfmiddlewaretoken"') >= 4
    assert "__csrf_token_of_the_request__" not in html  # the shared part's hole filled
