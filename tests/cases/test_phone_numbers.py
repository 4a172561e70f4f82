import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from cases.services import default_time_zone, normalize_msisdn


@pytest.mark.parametrize(
    "raw",
    ["8 916 123-45-67", "+7 (916) 123 45 67", "79161234567", "9161234567", " +7-916-123-45-67 "],
)
def test_it_normalises_common_russian_formats_to_e164(raw):
    assert normalize_msisdn(raw) == "+79161234567"


@pytest.mark.parametrize(
    "raw", ["", "   ", "12345", "+7 916 123", "abc", "8 916 123-45-67 доб. 5", "+7916123456789012"]
)
def test_it_refuses_what_cannot_be_a_phone_number(raw):
    with pytest.raises(ValidationError):
        normalize_msisdn(raw)


@given(st.text(max_size=30))
def test_it_never_fails_otherwise_than_with_a_validation_error(raw):
    try:
        result = normalize_msisdn(raw)
    except ValidationError:
        return
    assert result.startswith("+") and result[1:].isdigit()


def test_a_mobile_number_defaults_to_moscow_time_and_a_landline_to_its_region():
    assert default_time_zone("+79161234567") == "Europe/Moscow"
    assert default_time_zone("+73832123456") == "Asia/Novosibirsk"  # Novosibirsk landline
