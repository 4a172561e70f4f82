"""Property-based tests of every parser that reads outside input: whatever the text, each one
answers a value of the promised shape or a ValidationError/ParseError — never another
exception (which would be a 500), never a value outside its range."""

from __future__ import annotations

import contextlib
import io
import json
import re
from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.exceptions import ParseError

from cases.api_policies import BoundedJSONParser
from cases.filters import AssigneeFormField, UtcDateTimeFormField
from cases.forms import DateField
from cases.phones import normalize_msisdn, validate_time_zone
from cases.serializers import DateTimeField
from fraudcenter.logging import mask_phones

# Text as it arrives: any Unicode (other digits such as "²" and "٣", NUL, surrogates aside),
# and text that looks almost right, so the parsers' inner branches are reached too.
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
PHONEISH = st.from_regex(r"\A[+8 7]{0,2}[\d ()\-.²٣]{0,16}\Z")
DATEISH = st.from_regex(
    r"\A[0-9²]{1,5}-[0-9]{1,2}-[0-9]{1,2}([T ][0-9:]{1,8}([+-][0-9:]{1,6}|Z)?)?\Z"
)
E164 = re.compile(r"\A\+\d{8,15}\Z")


@given(st.one_of(ANY_TEXT, PHONEISH))
def test_a_phone_number_is_e164_or_a_validation_error(text):
    try:
        result = normalize_msisdn(text)
    except ValidationError:
        return
    assert E164.match(result)


@given(st.integers(min_value=900_000_0000, max_value=999_999_9999))
def test_a_mobile_number_written_any_common_way_is_one_number(n):
    digits = str(n)
    ways = [
        f"+7{digits}",
        f"8{digits}",
        f"7{digits}",
        f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}",
        f"+7 {digits[:3]} {digits[3:6]} {digits[6:8]} {digits[8:]}",
    ]
    results = set()
    for way in ways:
        try:
            results.add(normalize_msisdn(way))
        except ValidationError:
            results.add("refused")
    assert len(results) == 1


@given(ANY_TEXT)
def test_a_time_zone_is_a_known_one_or_a_validation_error(text):
    with contextlib.suppress(ValidationError):
        assert validate_time_zone(text) == text


@given(st.one_of(ANY_TEXT, DATEISH))
def test_a_form_date_is_within_2000_2100_or_a_form_error(text):
    try:
        value = DateField(required=False).clean(text)
    except ValidationError:
        return
    assert value is None or date(2000, 1, 1) <= value <= date(2100, 12, 31)


@given(st.one_of(ANY_TEXT, DATEISH))
def test_a_filter_time_is_aware_utc_or_a_form_error(text):
    try:
        value = UtcDateTimeFormField(required=False).clean(text)
    except ValidationError:
        return
    assert value is None or value.tzinfo is UTC


@given(st.one_of(ANY_TEXT, DATEISH))
def test_an_api_time_is_within_2000_2100_or_a_field_error(text):
    try:
        value = DateTimeField().run_validation(text)
    except serializers.ValidationError:
        return
    assert isinstance(value, datetime) and 2000 <= value.year <= 2100


@given(st.one_of(ANY_TEXT, st.from_regex(r"\A[0-9¹²³٣]{1,4}\Z")))
@example("³")
def test_an_assignee_filter_is_an_id_me_none_or_a_form_error(text):
    try:
        value = AssigneeFormField(required=False).clean(text)
    except ValidationError:
        return
    assert value is None or value in ("me", "none") or (isinstance(value, int) and value >= 0)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=20,
)


def _parse(body: bytes):
    return BoundedJSONParser().parse(io.BytesIO(body), "application/json", {})


@given(JSON)
def test_json_within_the_depth_limit_parses_as_sent(value):
    assert _parse(json.dumps(value).encode()) == value


@given(st.integers(min_value=33, max_value=20_000))
def test_json_nested_deeper_than_32_is_a_parse_error(depth):
    with pytest.raises(ParseError):
        _parse(b"[" * depth + b"]" * depth)


@given(st.binary(max_size=200))
def test_any_bytes_are_json_or_a_parse_error(body):
    with contextlib.suppress(ParseError):
        _parse(body)


@given(
    st.integers(min_value=900_000_0000, max_value=999_999_9999),
    st.sampled_from(["Звонили с {p} в 05:51:35, 2026-11-24", "номер {p}", "{p}!", "({p})"]),
)
def test_the_log_masker_hides_numbers_and_keeps_times_and_dates(n, template):
    text = template.format(p=f"+7{n}")
    masked = mask_phones(text)
    assert str(n) not in masked and masked.count("***") == 1
    if "05:51:35" in text:
        assert "в 05:51:35, 2026-11-24" in masked


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.one_of(
        JSON,
        st.dictionaries(
            st.sampled_from(["message_id", "reference", "status", "from", "text"]),
            JSON | st.from_regex(r"\Afc-[0-9²٣\x00]{0,6}\Z"),
            max_size=5,
        ),
    )
)
def test_the_sms_gateway_callbacks_answer_200_or_400(client, settings, body):
    settings.SMS_CALLBACK_SECRET = "s3cret"
    for url in ("/sms/http/dlr/", "/sms/http/inbound/"):
        response = client.post(
            url,
            json.dumps(body),
            content_type="application/json",
            HTTP_X_FRAUDCENTER_SECRET="s3cret",
        )
        assert response.status_code in (200, 400), (url, body)
