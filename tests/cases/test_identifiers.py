"""Scammer identifiers: the same phone, site, card, Telegram name or account written any
common way is one key; a card number never survives normalization."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from stdnum import luhn

from cases.identifiers import card_fingerprint, normalize

PROPERTY = hypothesis_settings(max_examples=150, deadline=None)

ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
KINDS = ["phone", "sender", "link", "card", "messenger", "account"]

MOBILE = st.builds(
    lambda code, rest: code + rest,
    st.sampled_from(["903", "912", "916", "926", "950", "985", "999"]),
    st.from_regex(r"\A[0-9]{7}\Z"),
)


def phone_ways(digits: str) -> list[str]:
    a, b, c, d = digits[:3], digits[3:6], digits[6:8], digits[8:]
    return [
        f"+7{digits}",
        f"8{digits}",
        f"7{digits}",
        digits,
        f"+7 ({a}) {b}-{c}-{d}",
        f"8 ({a}) {b}-{c}-{d}",
        f"8 {a} {b} {c} {d}",
        f"8-{a}-{b}-{c}-{d}",
        f"  +7 {a} {b}{c}{d} ",
    ]


LATIN_LABEL = st.from_regex(r"\A[a-w][a-z0-9]{2,12}(-[a-z0-9]{1,6})?\Z")
CYRILLIC_LABEL = st.from_regex(r"\A[а-я]{3,12}(-[а-я]{1,6})?\Z")
DOMAIN = st.one_of(
    st.tuples(LATIN_LABEL, st.sampled_from(["ru", "com", "net", "org", "su", "online", "site"])),
    st.tuples(CYRILLIC_LABEL, st.sampled_from(["рф", "москва", "рус"])),
).map(".".join)

TELEGRAM_NAME = st.from_regex(r"\A[a-z][a-z0-9_]{4,31}\Z")


def valid_card(prefix: str) -> str:
    return prefix + luhn.calc_check_digit(prefix)


CARD = st.integers(min_value=13, max_value=19).flatmap(
    lambda n: st.from_regex(rf"\A[2-6][0-9]{{{n - 2}}}\Z").map(valid_card)
)


def grouped(digits: str, size: int, separator: str) -> str:
    return separator.join(digits[i : i + size] for i in range(0, len(digits), size))


def random_case(text: str, flips: list[bool]) -> str:
    flips = (flips + [False] * len(text))[: len(text)]
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=True))


# Phones


@PROPERTY
@given(MOBILE)
def test_a_phone_written_any_common_way_is_one_value(digits):
    values = {normalize("phone", way).value for way in phone_ways(digits)}
    assert values == {f"+7{digits}"}


@PROPERTY
@given(MOBILE)
def test_a_phone_is_shown_in_the_international_format(digits):
    identifier = normalize("phone", f"8{digits}")
    assert identifier.display == f"+7 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
    assert identifier.raw == identifier.value


@pytest.mark.parametrize("raw, value", [("900", "900"), ("  0611 ", "0611"), ("+44 20", "+4420")])
def test_it_keeps_short_and_foreign_numbers_as_digits(raw, value):
    assert normalize("phone", raw).value == value


@pytest.mark.parametrize("raw", ["12", "абв", "+7 916 123 45 67 89 01 23 45"])
def test_it_refuses_what_cannot_be_a_phone_number(raw):
    with pytest.raises(ValidationError) as error:
        normalize("phone", raw)
    assert error.value.message_dict == {"value": ["Номер указан неверно."]}


@PROPERTY
@given(st.one_of(MOBILE.flatmap(lambda d: st.sampled_from(phone_ways(d))), ANY_TEXT))
def test_a_phone_value_normalizes_to_itself(text):
    try:
        value = normalize("phone", text).value
    except ValidationError:
        return
    assert normalize("phone", value).value == value


# SMS senders


@PROPERTY
@given(st.text(CYRILLIC + "abcXYZ0-9 .\t", min_size=1, max_size=80))
def test_a_sender_value_is_upper_case_collapsed_and_normalizes_to_itself(text):
    try:
        identifier = normalize("sender", text)
    except ValidationError:
        assert not text.strip()
        return
    assert identifier.value == identifier.value.upper()
    assert "  " not in identifier.value and len(identifier.value) <= 64
    assert normalize("sender", identifier.value).value == identifier.value


def test_a_sender_is_the_same_however_spaced_and_cased():
    assert normalize("sender", " Gos  uslugi\t").value == normalize("sender", "GOS USLUGI").value


# Links


@PROPERTY
@given(
    DOMAIN,
    st.sampled_from(["", "http://", "https://", "HTTPS://"]),
    st.sampled_from(["", "www.", "sub.", "a.b."]),
    st.sampled_from(["", "/", "/login", "/x?y=1", "/путь/"]),
    st.lists(st.booleans(), max_size=40),
)
def test_a_site_written_any_common_way_is_its_registrable_domain(domain, scheme, sub, path, flips):
    text = random_case(f"{scheme}{sub}{domain}{path}", flips)
    identifier = normalize("link", text)
    assert identifier.value == domain
    assert identifier.display == f"{sub}{domain}".removeprefix("www.").rstrip(".")
    assert identifier.raw == text.strip()
    assert normalize("link", identifier.value).value == identifier.value


@PROPERTY
@given(DOMAIN, st.sampled_from(["", "https://", "www."]))
def test_a_site_in_punycode_is_the_same_site(domain, prefix):
    punycode = domain.encode("idna").decode()
    assert normalize("link", prefix + punycode).value == normalize("link", domain).value == domain


@pytest.mark.parametrize(
    "text",
    [
        "https://gosuslugi-help.ru/login",
        "gosuslugi-help.ru",
        "www.Gosuslugi-Help.ru/",
        "http://sub.gosuslugi-help.ru/x?y=1",
        "https://gosuslugi.ru@gosuslugi-help.ru/",  # the host is after the "@"
    ],
)
def test_the_examples_share_one_value(text):
    assert normalize("link", text).value == "gosuslugi-help.ru"


def test_an_idn_site_is_kept_in_unicode():
    identifier = normalize("link", "https://xn----etbbunqvbrc.xn--p1ai/вход")
    assert (identifier.value, identifier.display) == ("гос-услуги.рф", "гос-услуги.рф")
    assert normalize("link", "ГОС-УСЛУГИ.РФ").value == "гос-услуги.рф"


@pytest.mark.parametrize(
    "text, value", [("http://91.215.42.7/login", "91.215.42.7"), ("[2001:DB8::1]/x", "2001:db8::1")]
)
def test_an_ip_address_is_its_own_value(text, value):
    assert normalize("link", text).value == value


def test_the_raw_link_is_kept_as_typed_up_to_500_characters():
    text = "https://gosuslugi-help.ru/" + "a" * 600
    assert normalize("link", text).raw == text[:500]


@pytest.mark.parametrize(
    "text",
    ["ru", "co.uk", "рф", "https://msk.ru/", "localhost", "gosuslugi.test", "a..ru", "x y.ru"],
)
def test_it_refuses_a_public_suffix_or_a_host_without_a_registrable_domain(text):
    with pytest.raises(ValidationError) as error:
        normalize("link", text)
    assert error.value.message_dict == {"value": ["Ссылка указана неверно."]}


# Cards


@PROPERTY
@given(CARD, st.sampled_from(["", " ", "-"]), st.sampled_from([4, 6]))
def test_a_card_written_with_spaces_or_dashes_is_one_value_without_its_number(
    digits, separator, size
):
    identifier = normalize("card", grouped(digits, size, separator))
    assert identifier.value == normalize("card", digits).value
    assert identifier.value == "card:" + card_fingerprint(digits)
    assert digits not in identifier.value + identifier.display + identifier.raw
    assert identifier.display == identifier.raw == "•••• " + digits[-4:]


@PROPERTY
@given(CARD, st.integers(min_value=1, max_value=9))
def test_a_card_failing_the_luhn_check_is_refused(digits, shift):
    wrong = digits[:-1] + str((int(digits[-1]) + shift) % 10)
    with pytest.raises(ValidationError) as error:
        normalize("card", wrong)
    assert error.value.message_dict == {"value": ["Номер карты указан неверно."]}


@pytest.mark.parametrize("text", ["4276 1600", "4276160000000001234567", "4276 1600 0000 000a"])
def test_it_refuses_what_is_not_a_card_number(text):
    with pytest.raises(ValidationError):
        normalize("card", text)


def test_the_card_fingerprint_depends_on_the_key(settings):
    settings.INTEL_CARD_HASH_KEY = ""
    derived = card_fingerprint("4276160000000001")
    settings.INTEL_CARD_HASH_KEY = "key-one"
    one = card_fingerprint("4276160000000001")
    settings.INTEL_CARD_HASH_KEY = "key-two"
    two = card_fingerprint("4276160000000001")
    assert len({derived, one, two}) == 3
    assert card_fingerprint("4276160000000001") == two


# Messengers


@PROPERTY
@given(TELEGRAM_NAME, st.lists(st.booleans(), max_size=40))
def test_a_telegram_name_written_any_common_way_is_one_value(name, flips):
    ways = [
        f"@{name}",
        f"t.me/{name}",
        f"https://t.me/{name}",
        f"http://telegram.me/{name}/",
        f"telegram @{name}",
        f"Телеграм: @{name}",
        f"tg: {name}",
        f"@{name} (Telegram)",
    ]
    values = {normalize("messenger", random_case(way, flips)).value for way in ways}
    assert values == {f"telegram:@{name}"}
    assert normalize("messenger", f"telegram:@{name}").value == f"telegram:@{name}"
    assert normalize("messenger", f"@{name}").display == f"@{name} (Telegram)"


@PROPERTY
@given(MOBILE, st.sampled_from(["whatsapp", "WhatsApp", "ватсап", "вотсап", "wa"]))
def test_a_whatsapp_number_written_any_common_way_is_one_value(digits, app):
    values = {normalize("messenger", f"{app} {way}").value for way in phone_ways(digits)[:7]}
    assert values == {f"whatsapp:+7{digits}"}
    assert normalize("messenger", f"whatsapp:+7{digits}").value == f"whatsapp:+7{digits}"
    assert normalize("messenger", f"https://wa.me/7{digits}").value == f"whatsapp:+7{digits}"


def test_a_viber_number_is_shown_with_the_messenger():
    identifier = normalize("messenger", "Вайбер: 8 916 123-45-67")
    assert identifier.value == "viber:+79161234567"
    assert identifier.display == "+7 916 123-45-67 (Viber)"
    assert normalize("messenger", identifier.display).value == identifier.value


@pytest.mark.parametrize(
    "text", ["ivan_petrov", "@abc", "@1vanov", "t.me/ab", "whatsapp 123", "skype: ivan", "tgivanov"]
)
def test_it_refuses_what_is_not_a_messenger_account(text):
    with pytest.raises(ValidationError) as error:
        normalize("messenger", text)
    assert error.value.message_dict == {
        "value": ["Укажите @имя в Telegram или номер в WhatsApp/Viber."]
    }


# Accounts


@PROPERTY
@given(st.from_regex(r"\A[0-9]{20}\Z"), st.lists(st.sampled_from(["", " ", "  "]), max_size=20))
def test_a_russian_account_written_with_spaces_is_its_20_digits(digits, spaces):
    text = "".join(d + (spaces[i] if i < len(spaces) else "") for i, d in enumerate(digits))
    identifier = normalize("account", text)
    assert identifier.value == digits
    assert identifier.display.replace(" ", "") == digits
    assert normalize("account", identifier.value).value == digits


def test_an_iban_is_kept_compact_and_upper_case():
    identifier = normalize("account", "de89 3704 0044 0532 0130 00")
    assert identifier.value == "DE89370400440532013000"
    assert identifier.display == "DE89 3704 0044 0532 0130 00"
    assert normalize("account", identifier.value).value == identifier.value


@pytest.mark.parametrize(
    "text", ["4081781050000123456", "408178105000012345678", "DE89 3704 0044 0532 0130 01"]
)
def test_it_refuses_what_is_not_an_account(text):
    with pytest.raises(ValidationError) as error:
        normalize("account", text)
    assert error.value.message_dict == {"value": ["Номер счёта указан неверно."]}


# Any kind


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("text", ["", "   ", None])
def test_it_asks_for_a_value(kind, text):
    with pytest.raises(ValidationError) as error:
        normalize(kind, text)
    assert error.value.message_dict == {"value": ["Укажите значение."]}


def test_it_refuses_an_unknown_kind():
    with pytest.raises(ValidationError) as error:
        normalize("email", "a@b.ru")
    assert error.value.message_dict == {"kind": ["Неизвестный тип идентификатора."]}


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.sampled_from(KINDS), ANY_TEXT)
def test_any_text_is_an_identifier_or_a_validation_error(kind, text):
    try:
        identifier = normalize(kind, text)
    except ValidationError as error:
        assert set(error.message_dict) == {"value"}
        return
    assert identifier.kind == kind and identifier.value and len(identifier.value) <= 500
    assert len(identifier.raw) <= 500
