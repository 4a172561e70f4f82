"""The new contact screen: the subscriber card while typing, the intake form, refusals."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from cases.models import Case, Subscriber
from cases.services import case_set_status

pytestmark = pytest.mark.django_db


def test_the_new_contact_page_puts_the_cursor_in_the_phone_field(client, specialist):
    client.force_login(specialist)
    response = client.get(reverse("cases:new"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    phone_input = html[html.index('name="phone"') - 200 : html.index('name="phone"') + 400]
    assert "autofocus" in phone_input and 'accesskey="t"' in phone_input
    assert "django_htmx/htmx-2.min.js" in html


def test_the_card_shows_open_cases_first_and_flags_a_repeat_victim(client, specialist, make_case):
    closed = make_case(phone="+79160000001", summary="Старое обращение")
    case_set_status(case=closed, status="closed", actor=specialist, outcome="duplicate")
    open_ = make_case(phone="+79160000001", summary="Свежее обращение")
    client.force_login(specialist)
    response = client.get(
        reverse("cases:subscriber_card"), {"phone": "8 (916) 000-00-01"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Обращается повторно" in html and "SMS разрешены" in html
    open_block = html[html.index("Открытые обращения") : html.index("История")]
    assert open_.number in open_block and closed.number not in open_block
    # A known subscriber's zone is shown, not asked again (swapped out of band).
    assert 'id="tz-field"' in html and 'hx-swap-oob="true"' in html
    assert 'name="time_zone"' not in html
    assert LogEntry.objects.filter(
        object_id=open_.subscriber_id, action=LogEntry.Action.ACCESS
    ).exists()


def test_an_unknown_number_gets_a_new_subscriber_card_and_the_time_zone_question(
    client, specialist
):
    client.force_login(specialist)
    response = client.get(reverse("cases:subscriber_card"), {"phone": "89161234567"})
    html = response.content.decode()
    assert "Новый абонент" in html and "+79161234567" in html
    assert 'name="time_zone"' in html and "Asia/Vladivostok" in html


def test_a_half_typed_number_asks_for_the_whole_number(client, specialist):
    client.force_login(specialist)
    response = client.get(reverse("cases:subscriber_card"), {"phone": "8916"})
    assert "Введите номер полностью" in response.content.decode()


def _intake(cat, **overrides):
    data = {
        "phone": "+7 (916) 765-43-21",
        "time_zone": "Asia/Novosibirsk",
        "category": cat.pk,
        "channel": "hotline",
        "code_disclosed": "on",
        "summary": "Звонили из «службы безопасности»",
        "description": "Продиктовал код из SMS",
    }
    data.update(overrides)
    return data


def test_saving_the_intake_opens_the_case_for_the_specialist_and_shows_its_page(
    client, specialist, category
):
    client.force_login(specialist)
    response = client.post(reverse("cases:new"), _intake(category))
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:detail", args=[case.pk])
    assert case.assignee == specialist and case.created_by == specialist
    assert case.code_disclosed and case.priority == 4  # a disclosed code is urgent
    assert str(case.subscriber.time_zone) == "Asia/Novosibirsk"
    page = client.get(response["Location"]).content.decode()
    assert case.number in page and "Завершить сеансы" in page


def test_bad_input_gets_russian_messages_next_to_the_fields_and_keeps_what_was_typed(
    client, specialist, category
):
    client.force_login(specialist)
    data = _intake(
        category,
        phone="8 916 12",
        category="",
        money_lost="on",
        money_amount="",
        summary="",
        description="Мой подробный текст",
    )
    response = client.post(reverse("cases:new"), data)
    html = response.content.decode()
    assert response.status_code == 400
    assert not Case.objects.exists() and not Subscriber.objects.exists()
    assert "Номер телефона указан неверно." in html or "Такого номера" in html
    assert "Выберите категорию." in html
    assert "Укажите сумму потерь" in html
    assert "Опишите обращение в двух словах." in html
    assert 'value="8 916 12"' in html and "Мой подробный текст" in html


def test_a_negative_amount_is_refused_in_russian(client, specialist, category):
    client.force_login(specialist)
    response = client.post(
        reverse("cases:new"), _intake(category, money_lost="on", money_amount="-5")
    )
    assert response.status_code == 400
    assert "Сумма не может быть отрицательной." in response.content.decode()


def test_a_manager_may_not_open_cases(client, manager, category):
    client.force_login(manager)
    assert client.get(reverse("cases:new")).status_code == 403
    assert client.post(reverse("cases:new"), _intake(category)).status_code == 403
    assert not Case.objects.exists()


@pytest.mark.parametrize("path", ["cases:new", "cases:mine", "cases:list", "cases:queue"])
def test_integration_accounts_and_users_without_a_role_get_no_staff_pages(
    client, integration, nobody, path
):
    for user in (integration, nobody):
        client.force_login(user)
        assert client.get(reverse(path)).status_code == 403


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get(reverse("cases:new"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("n", [1, 30])
def test_the_subscriber_card_runs_the_same_queries_for_any_history(
    client, specialist, make_case, n, django_assert_num_queries
):
    for _ in range(n):
        make_case(phone="+79160000003")
    client.force_login(specialist)
    # session, the user with roles + permissions (one query), subscriber by number, audit
    # log row (insert), cases with category, assignee and the counts (window aggregates);
    # the last five calls
    with django_assert_num_queries(6):
        response = client.get(reverse("cases:subscriber_card"), {"phone": "+79160000003"})
    assert response.status_code == 200


@pytest.mark.parametrize("n", [1, 30])
def test_the_new_contact_page_runs_the_same_queries_for_any_number_of_categories(
    client, specialist, category, n, django_assert_num_queries
):
    from playbooks.models import Category

    Category.objects.bulk_create(Category(slug=f"c{i}", name=f"Категория {i}") for i in range(n))
    client.force_login(specialist)
    # session, the user with its roles (one query), categories with their playbooks
    with django_assert_num_queries(3):
        assert client.get(reverse("cases:new")).status_code == 200


def test_the_card_tells_the_subscribers_own_wall_clock(client, specialist, make_case):
    import time_machine

    make_case(phone="+79160000004", time_zone="Asia/Yekaterinburg")
    client.force_login(specialist)
    with time_machine.travel("2026-01-10 09:00:00+00:00", tick=False):
        html = client.get(reverse("cases:subscriber_card"), {"phone": "+79160000004"}).content
    # 09:00 UTC is 14:00 in Yekaterinburg (UTC+5), not Moscow's 12:00.
    assert "14:00" in html.decode() and "12:00" not in html.decode()


def test_the_empty_intake_form_does_not_claim_a_time_zone(client, specialist):
    """Was «МСК−1 · Калининград» (the list's first entry) before the card loaded."""
    client.force_login(specialist)
    html = client.get(reverse("cases:new")).content.decode()
    select = html[html.index('name="time_zone"') :]
    select = select[: select.index("</select>")]
    first_option = select[select.index("<option") : select.index("</option>")]
    assert 'value=""' in first_option and "selected" in first_option
    assert "Калининград" not in first_option
