"""GET /api/v1/cases/ — filters, cursor pagination, visibility, constant queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cases.models import Case
from cases.services import case_assign, case_set_status
from playbooks.models import Category

pytestmark = pytest.mark.django_db
URL = "/api/v1/cases/"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [c["id"] for c in response.json()["results"]]


def test_newest_first_with_a_cursor_and_25_per_page(staff_api, specialist, make_case):
    cases = [make_case() for _ in range(27)]
    client = staff_api(specialist)
    first = client.get(URL)
    assert ids(first) == [c.pk for c in reversed(cases)][:25]
    assert "count" not in first.json()
    second = client.get(first.json()["next"])
    assert ids(second) == [cases[1].pk, cases[0].pk]
    assert second.json()["next"] is None


@pytest.mark.parametrize("page_size", ["1000", "0", "-5", "null", "²", "1.5"])
def test_a_page_size_outside_1_to_100_is_a_field_error(staff_api, specialist, make_case, page_size):
    """Not silently the default: the schema says 1–100, and so does the answer."""
    make_case()
    response = staff_api(specialist).get(URL, {"page_size": page_size})
    assert response.status_code == 400
    assert "от 1 до 100" in response.json()["page_size"][0]


def test_a_page_size_within_bounds_is_honoured(staff_api, specialist, make_case):
    make_case(), make_case()
    assert len(staff_api(specialist).get(URL, {"page_size": "1"}).json()["results"]) == 1


@pytest.mark.parametrize("cursor", ["!!!", "cD1hYmM=", "bz14JnA9MjAyNg==", "cj0xJm89LTE="])
def test_a_forged_cursor_is_refused_not_a_500(staff_api, specialist, make_case, cursor):
    make_case()
    # A mangled cursor is bad input on a URL that exists: 400, as the schema says (not 404).
    assert staff_api(specialist).get(URL, {"cursor": cursor}).status_code in (200, 400)


def test_filters_status_category_channel_and_assignee(
    staff_api, specialist, supervisor, make_case, category
):
    other = Category.objects.create(slug="bank", name="Банк")
    a = make_case()
    b = make_case(channel="chat", category=other)
    c = make_case()
    case_set_status(case=c, status="in_progress", actor=supervisor)
    case_assign(case=a, assignee=specialist, actor=supervisor)
    client = staff_api(specialist)
    assert ids(client.get(URL, {"status": "in_progress"})) == [c.pk]
    assert ids(client.get(URL, {"status": ["in_progress", "new"]})) == [c.pk, b.pk, a.pk]
    assert ids(client.get(URL, {"category": "bank"})) == [b.pk]
    assert ids(client.get(URL, {"channel": "chat"})) == [b.pk]
    assert ids(client.get(URL, {"assignee": specialist.pk})) == [a.pk]
    assert ids(client.get(URL, {"assignee": "me"})) == [a.pk]
    assert ids(client.get(URL, {"assignee": "none"})) == [c.pk, b.pk]


def test_phone_filter_accepts_any_format(staff_api, specialist, make_case):
    mine = make_case(phone="+79161000000")
    make_case(phone="+79162000000")
    assert ids(staff_api(specialist).get(URL, {"phone": "8 (916) 100-00-00"})) == [mine.pk]


def test_created_after_and_before(staff_api, specialist, make_case):
    old, new = make_case(), make_case()
    Case.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    client = staff_api(specialist)
    assert ids(client.get(URL, {"created_after": since})) == [new.pk]
    assert ids(client.get(URL, {"created_before": since})) == [old.pk]
    # An offset PostgreSQL would refuse (beyond ±15:59) is converted, not a 500.
    assert ids(client.get(URL, {"created_after": "2000-01-01T00:00:00+17:18"})) == [new.pk, old.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"channel": "fax"},
        {"assignee": "someone"},
        {"phone": "abc"},
        {"created_after": "yesterday"},
        {"created_before": "0001-01-01T00:00:00+05:00"},
        {"q": "x" * 201},
    ],
)
def test_bad_filter_values_are_400_naming_the_filter(staff_api, specialist, params):
    response = staff_api(specialist).get(URL, params)
    assert response.status_code == 400
    assert set(params) <= set(response.json())


def test_text_search_finds_words_in_summary_and_description(staff_api, specialist, make_case):
    hit = make_case(summary="Просили код", description="Звонок от сотрудника банка Sber")
    make_case(summary="Ссылка в SMS")
    assert ids(staff_api(specialist).get(URL, {"q": "Sber"})) == [hit.pk]


@pytest.mark.postgres
def test_text_search_uses_russian_stemming_on_postgres(staff_api, specialist, make_case):
    hit = make_case(summary="Звонили мошенники", description="Представились сотрудниками банка")
    make_case(summary="Ссылка в SMS", description="Пришло письмо")
    client = staff_api(specialist)
    assert ids(client.get(URL, {"q": "мошенник"})) == [hit.pk]
    assert ids(client.get(URL, {"q": "сотрудник банк"})) == [hit.pk]


@pytest.mark.postgres
def test_the_fulltext_index_matches_the_search_expression(make_case):
    make_case()
    queryset = Case.objects.search("мошенник").order_by()  # the expression, not the order
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()
    assert "case_fulltext_ru_idx" in plan


def test_an_integration_lists_only_the_cases_it_opened(api, chat_backend, make_case, specialist):
    from django.contrib.auth.models import User

    mine = make_case()
    theirs = make_case(actor=User.objects.get(username="chat-backend"), channel="chat")
    make_case(actor=specialist)
    assert ids(api.get(URL)) == [mine.pk]
    assert ids(chat_backend.get(URL)) == [theirs.pk]


def test_refusals(client, staff_api, nobody):
    assert client.get(URL).status_code == 401
    assert staff_api(nobody).get(URL).status_code == 403


@pytest.mark.parametrize("n", [1, 30])
def test_list_runs_the_same_queries_for_any_number_of_cases(
    staff_api, supervisor, make_case, n, django_assert_num_queries
):
    for _ in range(n):
        case_assign(case=make_case(), assignee=supervisor, actor=supervisor)
    client = staff_api(supervisor)
    # session, the user with its roles (one query: cases.roles), one page of cases joined
    # with subscriber, category, assignee.
    with django_assert_num_queries(3):
        assert client.get(URL, {"status": "new", "category": "gosuslugi"}).status_code == 200


def test_an_empty_page_size_is_the_default(staff_api, specialist, make_case):
    make_case()
    assert staff_api(specialist).get(URL, {"page_size": ""}).status_code == 200


@pytest.mark.parametrize("assignee", ["³", "¹0", "٣"])
def test_an_assignee_in_other_digits_is_a_field_error_not_a_500(staff_api, supervisor, assignee):
    """schemathesis against gunicorn: «³».isdigit() is True, int("³") raises."""
    response = staff_api(supervisor).get(URL, {"assignee": assignee})
    assert response.status_code == 400 and "assignee" in response.json()


def test_a_scalar_filter_given_twice_is_a_field_error(staff_api, supervisor):
    response = staff_api(supervisor).get(
        URL + "?channel=chat&channel=hotline&status=new&status=closed"
    )
    assert response.status_code == 400 and list(response.json()) == ["channel"]
