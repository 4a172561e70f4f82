"""The supervisor's staff table at a center's size: a page at a time, found by name or state,
with the whole center's counts; and the selects of specialists that load when opened."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from cases import selectors
from cases.models import Absence, StaffProfile
from cases.roles import Role
from cases.services import case_assign

pytestmark = pytest.mark.django_db


@pytest.fixture
def center(db) -> list[User]:
    """Five specialists: two on shift with room, one full, one on a break, one away."""
    group = Group.objects.get(name=Role.SPECIALIST)
    names = [("Анна", "Абрамова"), ("Борис", "Белов"), ("Вера", "Волкова"),
             ("Глеб", "Горин"), ("Дарья", "Дёмина")]  # fmt: skip
    users = []
    for i, (first, last) in enumerate(names):
        user = User.objects.create(username=f"op{i}", first_name=first, last_name=last)
        user.groups.add(group)
        StaffProfile.objects.create(user=user, max_open_cases=1, is_available=i != 4)
        users.append(user)
    now = timezone.now()
    Absence.objects.create(
        user=users[3], kind="break", starts_at=now, ends_at=now + timedelta(minutes=15)
    )
    return users


def _names(html: str) -> list[str]:
    return re.findall(r'status=open">([^<]+)</a>', html)


def _staff(client, **params) -> str:
    response = client.get(
        reverse("cases:queue"), {"part": "staff", **params}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    return response.content.decode()


def test_the_table_shows_a_page_and_the_whole_centers_counts(
    client, supervisor, center, make_case, monkeypatch
):
    monkeypatch.setattr(selectors, "STAFF_PAGE_SIZE", 2)
    case_assign(case=make_case(), assignee=center[2], actor=supervisor)  # Волкова: full
    client.force_login(supervisor)
    first = _staff(client)
    assert _names(first) == ["Анна Абрамова", "Борис Белов"]
    counts = "Всего 5: на смене 3, отсутствуют 2, с полной загрузкой 1"
    assert counts in first
    assert "Страница 1 из 3 (найдено 5)" in first
    assert 'href="?page=2" rel="next"' in first
    assert _names(_staff(client, page=3)) == ["Дарья Дёмина"]
    # Past the last page: the last one (a specialist left since the link was made).
    last = _staff(client, page=99)
    assert "Страница 3 из 3" in last and counts in last
    # Its own poll keeps the page.
    assert 'hx-get="/queue/?part=staff&amp;page=3"' in last


@pytest.mark.parametrize(
    ("show", "expected"),
    [
        ("present", ["Анна Абрамова", "Борис Белов", "Вера Волкова"]),
        ("away", ["Глеб Горин", "Дарья Дёмина"]),  # on a break, off shift
        ("full", ["Вера Волкова"]),
    ],
)
def test_the_table_shows_those_on_shift_away_or_full(
    client, supervisor, center, make_case, show, expected
):
    case_assign(case=make_case(), assignee=center[2], actor=supervisor)
    client.force_login(supervisor)
    html = _staff(client, show=show)
    assert _names(html) == expected
    assert f'hx-get="/queue/?part=staff&amp;show={show}"' in html


@pytest.mark.parametrize("typed", ["волк", "ВОЛКОВА", "op2", "Вера Вол"])
def test_a_specialist_is_found_by_name_in_any_case(client, supervisor, center, typed):
    """Cyrillic folded on both databases (SQLite's own lower() folds ASCII only)."""
    client.force_login(supervisor)
    assert _names(_staff(client, q=typed)) == ["Вера Волкова"]


def test_two_searches_are_not_one_shared_rendering(client, supervisor, center):
    client.force_login(supervisor)
    assert _names(_staff(client, q="анна")) == ["Анна Абрамова"]
    assert _names(_staff(client, q="борис")) == ["Борис Белов"]
    assert len(_names(_staff(client))) == 5


def test_bad_filters_are_refused_in_russian_and_the_typed_search_stays(client, supervisor, center):
    client.force_login(supervisor)
    response = client.get(reverse("cases:queue"), {"q": "волк", "show": "asleep"})
    assert response.status_code == 400
    html = response.content.decode()
    assert html.count("Выберите корректный вариант") == 1  # beside its field
    assert 'value="волк"' in html  # what was typed stays in its field
    assert 'id="queue-rows"' in html  # the rest of the page is there
    part = client.get(
        reverse("cases:queue"), {"part": "staff", "page": "x"}, HTTP_HX_REQUEST="true"
    )
    assert part.status_code == 400 and "Страница: Введите целое число" in part.content.decode()
    assert "<html" not in part.content.decode()
    page = client.get(reverse("cases:queue"), {"page": "x"})
    assert page.status_code == 400 and "Страница: Введите целое число" in page.content.decode()


def test_a_rows_form_comes_back_to_the_page_it_was_on(client, supervisor, center, monkeypatch):
    monkeypatch.setattr(selectors, "STAFF_PAGE_SIZE", 2)
    client.force_login(supervisor)
    html = _staff(client, q="о", page=2)  # Абрамова… Горин, Дёмина: the second page
    assert 'name="next" value="/queue/?q=%D0%BE&amp;page=2#staff"' in html
    user = int(re.findall(r'name="user" value="(\d+)"', html)[0])
    response = client.post(
        reverse("cases:availability"),
        {"user": user, "is_available": "0", "next": "/queue/?q=%D0%BE&page=2#staff"},
    )
    assert response.status_code == 302 and response.url == "/queue/?q=%D0%BE&page=2#staff"


def test_the_assignment_select_loads_the_specialists_with_their_load_when_opened(
    client, supervisor, specialist, center, make_case, django_assert_num_queries
):
    case_assign(case=make_case(), assignee=center[2], actor=supervisor)
    make_case()  # one waiting, so the board has its assignment bar
    client.force_login(supervisor)
    page = client.get(reverse("cases:queue")).content.decode()
    select = re.search(r'<select name="assignee" id="queue-assignee"[^>]*>.*?</select>', page, re.S)
    assert select and "required" in select.group(0)
    assert 'hx-get="/cases/assignees/?selected=&amp;load=1"' in select.group(0)
    assert select.group(0).count("<option") == 1  # «— выберите специалиста —» only
    # session, the user with its roles, every specialist with load and profile (one query)
    with django_assert_num_queries(3):
        options = client.get(reverse("cases:assignee_options"), {"load": "1"}).content.decode()
    assert "Вера Волкова (1/1) — полная загрузка" in options
    assert "Глеб Горин (0/1) — нет до" in options
    assert "Дарья Дёмина (0/1) — отсутствует" in options


def test_a_specialist_gets_names_only(client, specialist, center):
    client.force_login(specialist)
    options = client.get(reverse("cases:assignee_options"), {"load": "1"}).content.decode()
    assert "Вера Волкова</option>" in options and "(0/1)" not in options


def test_the_case_pages_assignment_shows_the_assignee_and_loads_the_others(
    client, supervisor, center, make_case
):
    case = case_assign(case=make_case(), assignee=center[1], actor=supervisor)
    client.force_login(supervisor)
    html = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    select = re.search(r'<select name="assignee" id="assignee"[^>]*>.*?</select>', html, re.S)
    assert select
    assert f'<option value="{center[1].pk}" selected>Борис Белов</option>' in select.group(0)
    assert f'hx-get="/cases/assignees/?selected={center[1].pk}&amp;load=1"' in select.group(0)
    options = client.get(
        reverse("cases:assignee_options"), {"selected": center[1].pk, "load": "1"}
    ).content.decode()
    assert "Борис Белов" not in options and "Анна Абрамова" in options
