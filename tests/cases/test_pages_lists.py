"""My cases / all cases: filters, keyset pagination, constant queries."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Case
from cases.services import case_add_identifier, case_assign, case_set_status
from playbooks.models import Category

pytestmark = pytest.mark.django_db


def _numbers(response) -> set[str]:
    html = response.content.decode()
    return {n for n in Case.objects.values_list("number", flat=True) if f">{n}</a>" in html}


def test_my_cases_lists_only_my_open_cases_by_default(client, specialist, specialist2, make_case):
    mine = case_assign(case=make_case(), assignee=specialist, actor=specialist)
    done = case_assign(case=make_case(), assignee=specialist, actor=specialist)
    case_set_status(case=done, status="closed", outcome="duplicate", actor=specialist)
    theirs = case_assign(case=make_case(), assignee=specialist2, actor=specialist2)
    client.force_login(specialist)
    response = client.get(reverse("cases:mine"))
    assert _numbers(response) == {mine.number}
    assert '<option value="open" selected>' in response.content.decode()
    # Filters narrow "my" cases but never widen them to someone else's.
    got = _numbers(
        client.get(reverse("cases:mine"), {"status": "", "assignee": theirs.assignee_id})
    )
    assert got == {mine.number, done.number}


def test_each_filter_narrows_the_list(client, supervisor, specialist, make_case, integration):
    other_category = Category.objects.create(slug="bank", name="Банк")
    a = make_case(phone="+79161111111", summary="Звонили из банка про кредит")
    b = make_case(
        phone="+79162222222", channel="chat", category=other_category, summary="Ссылка в SMS"
    )
    c = make_case(phone="+79163333333", summary="Госуслуги: смена пароля")
    case_assign(case=c, assignee=specialist, actor=supervisor)
    case_set_status(case=a, status="waiting", actor=supervisor)
    Case.objects.filter(pk=b.pk).update(created_at=timezone.now() - timedelta(days=20))
    case_add_identifier(case=c, kind="sender", value="Bank-Info", actor=integration)
    identifier = c.identifiers.get()
    client.force_login(supervisor)
    url = reverse("cases:list")
    cases = {
        "status=waiting": {a.number},
        "status=open": {a.number, b.number, c.number},
        f"category={other_category.slug}": {b.number},
        "channel=chat": {b.number},
        f"assignee={specialist.pk}": {c.number},
        "assignee=none": {a.number, b.number},
        "period=7d": {a.number, c.number},
        "phone=8 916 222-22-22": {b.number},
        f"number={c.number}": {c.number},
        "q=кредит": {a.number},
        f"identifier={identifier.pk}": {c.number},
    }
    for query, expected in cases.items():
        assert _numbers(client.get(f"{url}?{query}")) == expected, query


def test_a_bad_filter_value_is_reported_in_russian(client, supervisor, make_case):
    make_case()
    client.force_login(supervisor)
    response = client.get(reverse("cases:list"), {"phone": "abc", "status": "nonsense"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "Номер телефона указан неверно." in html and "Выберите корректный вариант" in html


def test_the_next_page_continues_where_the_first_ended(client, supervisor, make_case):
    now = timezone.now()
    made = [make_case() for _ in range(55)]
    # Same created_at for several rows: the id breaks the tie.
    Case.objects.filter(pk__in=[c.pk for c in made[:10]]).update(created_at=now)
    client.force_login(supervisor)
    first = client.get(reverse("cases:list"))
    html = first.content.decode()
    assert "Следующая страница" in html
    after = html.split("after=")[1].split('"')[0].replace("&amp;", "&")
    from urllib.parse import unquote

    second = client.get(reverse("cases:list"), {"after": unquote(after)})
    page1, page2 = _numbers(first), _numbers(second)
    assert len(page1) == 50 and len(page2) == 5 and not page1 & page2
    assert page1 | page2 == {c.number for c in made}
    assert "Следующая страница" not in second.content.decode()


def test_a_supervisor_reassigns_several_cases_from_the_list(
    client, supervisor, specialist, specialist2, make_case
):
    cases = [case_assign(case=make_case(), assignee=specialist, actor=supervisor) for _ in range(3)]
    client.force_login(supervisor)
    data = {"cases": [c.pk for c in cases[:2]], "assignee": specialist2.pk, "next": "/cases/"}
    data.update({f"v_{c.pk}": c.version for c in cases})
    response = client.post(reverse("cases:assign"), data)
    assert response.status_code == 302 and response["Location"] == "/cases/"
    got = dict(Case.objects.values_list("pk", "assignee_id"))
    assert [got[c.pk] for c in cases] == [specialist2.pk, specialist2.pk, specialist.pk]


def test_only_a_supervisor_sees_the_reassign_controls(client, supervisor, manager, make_case):
    make_case()
    client.force_login(manager)
    assert 'name="cases"' not in client.get(reverse("cases:list")).content.decode()
    client.force_login(supervisor)
    assert 'name="cases"' in client.get(reverse("cases:list")).content.decode()


@pytest.mark.parametrize("n", [1, 30])
@pytest.mark.parametrize("path", ["cases:list", "cases:mine"])
def test_the_lists_run_the_same_queries_for_any_number_of_cases(
    client, specialist, make_case, n, path, django_assert_num_queries
):
    for _ in range(n):
        case_assign(case=make_case(), assignee=specialist, actor=specialist)
    client.force_login(specialist)
    # session, the user with its roles, permissions and time zone (one query: cases.roles);
    # the page of cases joined with subscriber, category and assignee (no COUNT); categories
    # for the filter; on «Мои обращения», the specialist's own break (the «На перерыв» /
    # «Я вернулся» button). No specialists: the assignee filter loads them when opened
    # (cases:assignee_options), and a specialist assigns nothing in bulk.
    with django_assert_num_queries(5 if path == "cases:mine" else 4):
        assert client.get(reverse(path), {"status": "open", "q": "службы"}).status_code == 200


def test_my_cases_ignore_an_assignee_in_the_address_and_a_supervisor_still_assigns_in_bulk(
    client, specialist, supervisor, make_case
):
    mine, other = make_case(), make_case()
    case_assign(case=mine, assignee=supervisor, actor=supervisor)
    case_assign(case=other, assignee=specialist, actor=supervisor)
    client.force_login(supervisor)
    response = client.get(reverse("cases:mine"), {"assignee": str(specialist.pk)})
    assert response.status_code == 200
    assert _numbers(response) == {mine.number}
    html = response.content.decode()
    assert 'name="assignee" id="bulk-assignee"' in html
    assert 'hx-get="/cases/assignees/?selected=&amp;load=1"' in html  # its options when opened
    assert 'name="assignee" id="id_assignee"' not in html  # no assignee filter here
    options = client.get(reverse("cases:assignee_options"), {"selected": "", "load": "1"})
    assert f'<option value="{specialist.pk}">{specialist.username} (1/15)</option>' in (
        options.content.decode()
    )


@pytest.mark.parametrize("typed", ["{number}", "{short}", "№ {short}", "{yy}-{short}"])
def test_the_number_filter_takes_the_short_forms(client, supervisor, make_case, typed):
    """«61» finds «26-000061»: the list no longer needs the whole number."""
    case, _other = make_case(), make_case()
    yy, digits = case.number.split("-")
    query = typed.format(number=case.number, short=str(int(digits)), yy=yy)
    client.force_login(supervisor)
    assert _numbers(client.get(reverse("cases:list"), {"number": query})) == {case.number}


def test_a_date_range_ending_before_it_starts_says_so(client, supervisor, make_case):
    make_case()
    client.force_login(supervisor)
    response = client.get(
        reverse("cases:list"),
        {"period": "custom", "date_from": "2026-11-20", "date_to": "2026-11-10"},
    )
    assert response.status_code == 400
    assert "Конец периода раньше начала." in response.content.decode()


def test_the_assignee_filter_loads_the_specialists_when_opened(
    client, specialist, specialist2, make_case, django_assert_num_queries
):
    """A center of thousands: the list does not render every specialist into the filter;
    opening it fetches them (htmx), but the one already chosen, which the filter shows."""
    theirs = case_assign(case=make_case(), assignee=specialist2, actor=specialist2)
    mine = case_assign(case=make_case(), assignee=specialist, actor=specialist)
    client.force_login(specialist)
    html = client.get(reverse("cases:list")).content.decode()
    assert f'<option value="{specialist2.pk}"' not in html
    assert reverse("cases:assignee_options") in html
    html = client.get(reverse("cases:list"), {"assignee": specialist2.pk}).content.decode()
    assert f'<option value="{specialist2.pk}" selected>' in html  # shown as chosen
    assert theirs.number in html and mine.number not in html
    assert f"selected={specialist2.pk}" in html
    with django_assert_num_queries(3):  # session, the user, the specialists
        options = client.get(
            reverse("cases:assignee_options"), {"selected": specialist2.pk}
        ).content.decode()
    assert f'value="{specialist.pk}"' in options and f'value="{specialist2.pk}"' not in options
    # Someone who is not a specialist (or no one): a form error, as before, not every case.
    response = client.get(reverse("cases:list"), {"assignee": "999999"})
    assert response.status_code == 400 and "Выберите корректный вариант" in (
        response.content.decode()
    )
    odd = client.get(reverse("cases:list"), {"assignee": "x&y=1"})
    assert odd.status_code == 400 and "selected=x%26y%3D1" in odd.content.decode()
