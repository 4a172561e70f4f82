"""The SMS panel on the case page: list, schedule (htmx and plain), cancel, opt-out, access."""

import re
import uuid
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from cases.models import Case, CaseEvent, StaffProfile, Subscriber
from cases.services import case_assign, case_set_status
from reminders.models import Reminder
from reminders.services import reminder_schedule_manual

pytestmark = pytest.mark.django_db

S = Reminder.Status


def _v(case: Case) -> int:
    """The case's version as the page shows it now (every write carries it)."""
    return Case.objects.values_list("version", flat=True).get(pk=case.pk)


@pytest.fixture
def my_case(make_case, specialist):
    case = make_case()
    return case_assign(case=case, assignee=specialist, actor=specialist)


def _schedule(case, actor, text="Никому не сообщайте коды из SMS.", **kwargs):
    reminder, _created = reminder_schedule_manual(
        case=case, text=text, send_after=None, request_id=str(uuid.uuid4()), actor=actor
    )
    if kwargs:
        Reminder.objects.filter(pk=reminder.pk).update(**kwargs)
        reminder.refresh_from_db()
    return reminder


def _request_id(html: str) -> str:
    return re.search(r'name="request_id" value="([0-9a-f-]{36})"', html).group(1)


def _page(client, case) -> str:
    return client.get(reverse("cases:detail", args=[case.pk])).content.decode()


def _panel(html: str) -> str:
    start = html.index('<section class="card" id="sms"')
    return html[start : html.index("</section>", start)]


def test_the_panel_shows_each_sms_with_its_status_times_in_both_zones_and_parts(
    client, specialist, my_case
):
    StaffProfile.objects.create(user=specialist, time_zone="Asia/Vladivostok")
    Subscriber.objects.filter(pk=my_case.subscriber_id).update(time_zone="Asia/Yekaterinburg")
    r = _schedule(my_case, specialist, text="Обращение: никому не сообщайте коды. " * 3)
    Reminder.objects.filter(pk=r.pk).update(
        send_after=datetime(2030, 3, 1, 4, 0, tzinfo=UTC), shifted_by_quiet_hours=True
    )
    client.force_login(specialist)
    panel = _panel(_page(client, my_case))
    assert "Запланировано" in panel and "2 SMS" in panel
    # 04:00 UTC is 14:00 in Vladivostok (the specialist) and 09:00 in Yekaterinburg.
    assert "01.03 14:00" in panel and "по вашему времени" in panel
    assert "01.03 09:00" in panel and "у абонента" in panel
    assert "перенесено из-за тихих часов" in panel
    assert "Отменить" in panel


def test_a_failed_sms_shows_its_attempts_and_last_error(client, specialist, my_case):
    _schedule(my_case, specialist, status=S.FAILED, attempts=3, last_error="gateway said 500")
    client.force_login(specialist)
    panel = _panel(_page(client, my_case))
    assert "Ошибка" in panel and "попыток: 3: gateway said 500" in panel
    assert "Отменить" not in panel  # only scheduled ones can be cancelled


def test_the_form_carries_a_fresh_request_id_and_the_sms_counter(client, specialist, my_case):
    client.force_login(specialist)
    first, second = _page(client, my_case), _page(client, my_case)
    assert _request_id(first) != _request_id(second)
    assert 'data-sms-counter="sms-counter"' in first and 'id="sms-counter"' in first
    assert "js/sms-counter.js" in first and "SMS по обращению не отправлялись." in first


def test_an_sms_is_scheduled_in_place_and_a_double_submit_makes_one_sms(
    client, specialist, my_case
):
    client.force_login(specialist)
    data = {
        "text": "Обращение принято. Никому не называйте коды.",
        "delay": "60",
        "request_id": _request_id(_page(client, my_case)),
        "version": _v(my_case),
    }
    url = reverse("cases:sms_schedule", args=[my_case.pk])
    first = client.post(url, data, HTTP_HX_REQUEST="true")
    second = client.post(url, data, HTTP_HX_REQUEST="true")
    html = first.content.decode()
    assert first.status_code == second.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="sms">')
    assert "Запланировано" in html and "Обращение принято." in html
    assert 'id="timeline" hx-swap-oob="true"' in html
    reminder = Reminder.objects.get(case=my_case)
    assert reminder.created_by == specialist and reminder.parts == 1
    assert CaseEvent.objects.filter(case=my_case, kind="sms_scheduled").count() == 1
    # After a success the form starts over with a new request id and an empty text.
    assert _request_id(html) != data["request_id"]
    form = html.split('class="sms-form"')[1]
    assert "Обращение принято." not in form[: form.index("</textarea>")]


def test_without_javascript_scheduling_redirects_back_to_the_panel(client, specialist, my_case):
    client.force_login(specialist)
    response = client.post(
        reverse("cases:sms_schedule", args=[my_case.pk]),
        {
            "text": "Kody nikomu ne soobshchaite.",
            "delay": "0",
            "request_id": str(uuid.uuid4()),
            "version": _v(my_case),
        },
    )
    assert response.status_code == 302 and response.url.endswith("#sms")
    assert Reminder.objects.get(case=my_case).status == S.SCHEDULED


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("   ", "Текст SMS пуст."),
        ("Проверьте вход на gosuslugi.ru", "В тексте SMS не должно быть ссылок"),
        ("Очень длинное сообщение. " * 20, "Слишком длинное SMS: 8 частей"),
    ],
)
def test_bad_text_gets_a_russian_error_next_to_the_field_and_keeps_the_text(
    client, specialist, my_case, text, error
):
    client.force_login(specialist)
    response = client.post(
        reverse("cases:sms_schedule", args=[my_case.pk]),
        {"text": text, "delay": "0", "request_id": str(uuid.uuid4()), "version": _v(my_case)},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 422
    field = html[html.index('<div class="field has-error">') :]
    assert error in field[: field.index("</textarea>")]
    if text.strip():
        assert f">\n{text}</textarea>" in html or f">{text}</textarea>" in html
    assert not Reminder.objects.exists()


def test_bad_text_without_javascript_renders_the_page_with_the_error(client, specialist, my_case):
    client.force_login(specialist)
    response = client.post(
        reverse("cases:sms_schedule", args=[my_case.pk]),
        {
            "text": "www.example.com",
            "delay": "0",
            "request_id": str(uuid.uuid4()),
            "version": _v(my_case),
        },
    )
    html = response.content.decode()
    assert response.status_code == 400 and "В тексте SMS не должно быть ссылок" in html
    assert "www.example.com</textarea>" in html and my_case.number in html


def test_a_form_without_its_request_id_is_refused(client, specialist, my_case):
    client.force_login(specialist)
    response = client.post(
        reverse("cases:sms_schedule", args=[my_case.pk]),
        {"text": "Коды никому", "delay": "0"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert "Форма устарела: обновите страницу." in response.content.decode()
    assert not Reminder.objects.exists()


def test_an_opted_out_subscriber_gets_a_disabled_form_and_no_sms(client, specialist, my_case):
    Subscriber.objects.filter(pk=my_case.subscriber_id).update(sms_opt_out=True)
    client.force_login(specialist)
    panel = _panel(_page(client, my_case))
    assert "Абонент отказался от SMS («СТОП»)." in panel
    assert '<fieldset class="plain" disabled>' in panel
    response = client.post(
        reverse("cases:sms_schedule", args=[my_case.pk]),
        {
            "text": "Коды никому",
            "delay": "0",
            "request_id": str(uuid.uuid4()),
            "version": _v(my_case),
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422 and "сообщения ему не отправляются" in (
        response.content.decode()
    )
    assert not Reminder.objects.exists()


def test_a_closed_case_gets_no_new_sms(client, specialist, my_case):
    case_set_status(case=my_case, status="closed", outcome="duplicate", actor=specialist)
    client.force_login(specialist)
    assert '<fieldset class="plain" disabled>' in _panel(_page(client, my_case))
    response = client.post(
        reverse("cases:sms_schedule", args=[my_case.pk]),
        {
            "text": "Коды никому",
            "delay": "0",
            "request_id": str(uuid.uuid4()),
            "version": _v(my_case),
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422 and "Обращение закрыто" in response.content.decode()
    assert not Reminder.objects.exists()


def test_a_scheduled_sms_is_cancelled_in_place(client, specialist, my_case):
    reminder = _schedule(my_case, specialist)
    client.force_login(specialist)
    response = client.post(
        reverse("cases:sms_cancel", args=[my_case.pk, reminder.pk]),
        {"version": _v(my_case)},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200 and "Отменено" in _panel(html)
    assert "Отменить" not in _panel(html)
    reminder.refresh_from_db()
    assert reminder.status == S.CANCELLED
    assert CaseEvent.objects.filter(case=my_case, kind="sms_cancelled", actor=specialist).exists()


def test_an_sms_already_sent_cannot_be_cancelled_and_says_why(client, specialist, my_case):
    reminder = _schedule(my_case, specialist, status=S.SENT)
    client.force_login(specialist)
    response = client.post(
        reverse("cases:sms_cancel", args=[my_case.pk, reminder.pk]),
        {"version": _v(my_case)},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    assert "SMS уже нельзя отменить: статус «Отправлено»." in response.content.decode()
    reminder.refresh_from_db()
    assert reminder.status == S.SENT


def test_an_sms_of_another_case_is_not_found(client, specialist, my_case, make_case):
    other = case_assign(case=make_case(), assignee=specialist, actor=specialist)
    reminder = _schedule(other, specialist)
    client.force_login(specialist)
    response = client.post(
        reverse("cases:sms_cancel", args=[my_case.pk, reminder.pk]), {"version": _v(my_case)}
    )
    assert response.status_code == 404
    assert Reminder.objects.get(pk=reminder.pk).status == S.SCHEDULED


def test_a_manager_sees_the_sms_read_only_and_every_sms_write_is_refused(
    client, manager, specialist, my_case
):
    reminder = _schedule(my_case, specialist)
    client.force_login(manager)
    panel = _panel(_page(client, my_case))
    assert "Запланировано" in panel and "<form" not in panel
    schedule = client.post(
        reverse("cases:sms_schedule", args=[my_case.pk]),
        {
            "text": "Коды никому",
            "delay": "0",
            "request_id": str(uuid.uuid4()),
            "version": _v(my_case),
        },
        HTTP_HX_REQUEST="true",
    )
    cancel = client.post(
        reverse("cases:sms_cancel", args=[my_case.pk, reminder.pk]),
        {"version": _v(my_case)},
        HTTP_HX_REQUEST="true",
    )
    assert (schedule.status_code, cancel.status_code) == (403, 403)
    assert Reminder.objects.get().status == S.SCHEDULED


def test_another_specialist_cannot_schedule_or_cancel_on_a_case_not_theirs(
    client, specialist, specialist2, my_case
):
    reminder = _schedule(my_case, specialist)
    client.force_login(specialist2)
    assert "<form" not in _panel(_page(client, my_case))
    schedule = client.post(
        reverse("cases:sms_schedule", args=[my_case.pk]),
        {
            "text": "Коды никому",
            "delay": "0",
            "request_id": str(uuid.uuid4()),
            "version": _v(my_case),
        },
    )
    cancel = client.post(
        reverse("cases:sms_cancel", args=[my_case.pk, reminder.pk]), {"version": _v(my_case)}
    )
    assert (schedule.status_code, cancel.status_code) == (403, 403)
    assert Reminder.objects.get().status == S.SCHEDULED


def test_anonymous_sms_writes_go_to_the_login_page(client, specialist, my_case):
    reminder = _schedule(my_case, specialist)
    response = client.post(
        reverse("cases:sms_cancel", args=[my_case.pk, reminder.pk]), {"version": _v(my_case)}
    )
    assert response.status_code == 302 and "/login/" in response.url
    assert Reminder.objects.get().status == S.SCHEDULED


def test_a_supervisor_may_schedule_on_any_case(client, supervisor, my_case):
    client.force_login(supervisor)
    response = client.post(
        reverse("cases:sms_schedule", args=[my_case.pk]),
        {
            "text": "Коды никому",
            "delay": "0",
            "request_id": str(uuid.uuid4()),
            "version": _v(my_case),
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert Reminder.objects.get().created_by == supervisor
