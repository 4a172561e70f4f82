import json
import logging

import pytest
import structlog

from fraudcenter.celery import _carry_request_id
from fraudcenter.logging import logging_config, mask_phones


@pytest.mark.parametrize(
    "text",
    [
        "звонил +7 916 123-45-67",
        "номер 89161234567",
        "7(916)1234567 снова",
        "позвонили с +79161234567.",
        "GET /api/v1/cases/?phone=+79161234567&status=new",
        '{"phone_hint": "8 (916) 123-45-67"}',
    ],
)
def test_phone_numbers_are_masked_in_any_format(text):
    masked = mask_phones(text)
    assert "123" not in masked and "***67" in masked


def test_short_numbers_and_case_numbers_stay(db):
    assert mask_phones("обращение 26-000123, код 900") == "обращение 26-000123, код 900"


@pytest.mark.parametrize(
    "text",
    [
        "request_id=24355078-cfdf-421d-a107-341234567808",
        "task_id=00000000-1111-2222-3333-444455556666",
        "Task reminders.reap succeeded in 0.0030505656s",
        "token 0e23775b8e0925e6157c94b72ffd2eb4",
    ],
)
def test_ids_and_durations_are_not_taken_for_phone_numbers(text):
    assert mask_phones(text) == text


def test_json_log_lines_carry_the_request_id_and_no_phone_numbers(capsys):
    logging.config.dictConfig(logging_config(json_logs=True, level="INFO"))
    structlog.contextvars.bind_contextvars(request_id="req-42")
    try:
        logging.getLogger("fraudcenter.test").info("lookup for %s", "+79161234567")
        structlog.get_logger("fraudcenter.test").info("case_opened", phone="+79161234567")
    finally:
        structlog.contextvars.clear_contextvars()
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert [line["request_id"] for line in lines] == ["req-42", "req-42"]
    assert "+79161234567" not in json.dumps(lines, ensure_ascii=False)
    assert lines[1]["phone"] == "***"


@pytest.mark.django_db
def test_each_response_carries_a_request_id(client):
    res = client.get("/healthz", HTTP_X_REQUEST_ID="from-proxy-1")
    assert res["X-Request-ID"] == "from-proxy-1"
    res = client.get("/healthz", HTTP_X_REQUEST_ID="bad id; drop table")
    assert res["X-Request-ID"] != "bad id; drop table" and len(res["X-Request-ID"]) == 32


def test_tasks_published_during_a_request_carry_its_id():
    headers: dict = {}
    structlog.contextvars.bind_contextvars(request_id="req-7")
    try:
        _carry_request_id(headers=headers)
    finally:
        structlog.contextvars.clear_contextvars()
    assert headers["request_id"] == "req-7"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "AXES: Cleaned up 0 expired access attempts from database that were older than "
            "2026-11-28 05:51:35.843776+00:00",
            "AXES: Cleaned up 0 expired access attempts from database that were older than "
            "2026-11-28 05:51:35.843776+00:00",
        ),
        ("Scheduler: due at 05:51:35", "Scheduler: due at 05:51:35"),
        ("звонил 89161234567 в 05:51", "звонил ***67 в 05:51"),
        ("тел. 8 (916) 123-45-67: просил код", "тел. ***67: просил код"),
    ],
)
def test_the_masker_leaves_dates_and_times_alone_and_masks_numbers_beside_them(line, expected):
    assert mask_phones(line) == expected


def test_the_console_sms_backend_prints_no_phone_number():
    import io

    from reminders.backends.base import OutgoingSms
    from reminders.backends.console import ConsoleBackend

    out = io.StringIO()
    ConsoleBackend(stream=out).send_messages(
        [OutgoingSms(1, "+79161234567", "Перезвоните по +7 495 765-43-21, код 1234", "fc-1")]
    )
    printed = out.getvalue()
    assert "9161234567" not in printed and "765-43-21" not in printed
    assert "***21" in printed and "Перезвоните по" in printed
