"""Free text from subscribers: secrets (cards, codes, CVV, passwords) are hidden before it is
stored, ordinary numbers are not, and the scammer's phones, sites and Telegram names are found."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from stdnum import luhn

from cases.identifiers import normalize
from cases.masking import describe, find_identifiers, mask_secrets

PROPERTY = hypothesis_settings(max_examples=150, deadline=None)

CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
# Words and phrases as subscribers write them, none with a digit or a code keyword.
WORDS = [
    "мне", "позвонили", "якобы", "из", "банка", "служба безопасности", "сказали", "что",
    "Госуслуги", "заблокируют", "аккаунт", "мошенники", "просили", "перевести", "деньги",
    "на безопасный счёт", "я", "не", "стал", "сообщать", "бабушка", "испугалась", "вчера",
    "вечером", "сообщение", "пришло", "ссылка", "оператор", "представился", "сотрудником",
    "полиции", "Сбербанк", "личный кабинет", "заявление", "обращение", "в", "и", "но", "уже",
    "перезвонили", "говорили вежливо", "торопили", "угрожали",
]  # fmt: skip
# Phrases with a code keyword: a number right after one is a code.
KEYWORD_PHRASES = [
    "код из SMS",
    "прислали код",
    "назвал смс-код",
    "СМС с кодом",
    "code:",
    "одноразовый пароль из сообщения",
    "OTP",
]
PUNCTUATION = [" ", ", ", ". ", "! ", " — ", "? ", "\n"]

WORD_TEXT = st.lists(
    st.tuples(st.sampled_from(WORDS), st.sampled_from(PUNCTUATION)), max_size=12
).map(lambda pairs: "".join(w + p for w, p in pairs))
RANDOM_CYRILLIC = st.text(CYRILLIC + " ,.!?-—\n", max_size=40)
RUSSIAN_TEXT = st.one_of(WORD_TEXT, RANDOM_CYRILLIC)


def valid_card(prefix: str) -> str:
    return prefix + luhn.calc_check_digit(prefix)


CARD = st.integers(min_value=13, max_value=19).flatmap(
    lambda n: st.from_regex(rf"\A[2-6][0-9]{{{n - 2}}}\Z").map(valid_card)
)


def grouped(digits: str, separator: str) -> str:
    return separator.join(digits[i : i + 4] for i in range(0, len(digits), 4))


CARD_WRITTEN = st.tuples(CARD, st.sampled_from(["", " ", "-"])).map(
    lambda pair: (pair[0], grouped(pair[0], pair[1]) if pair[1] else pair[0])
)
MOBILE = st.builds(
    lambda code, rest: code + rest,
    st.sampled_from(["903", "912", "916", "926", "950", "985", "999"]),
    st.from_regex(r"\A[0-9]{7}\Z"),
)
PHONE_WRITTEN = st.tuples(
    MOBILE,
    st.sampled_from(
        ["+7{}", "8{}", "+7 ({a}) {b}-{c}-{d}", "8 ({a}) {b}-{c}-{d}", "8-{a}-{b}-{c}-{d}"]
    ),
).map(
    lambda pair: pair[1].format(
        pair[0], a=pair[0][:3], b=pair[0][3:6], c=pair[0][6:8], d=pair[0][8:]
    )
)
CODE = st.from_regex(r"\A[0-9]{4,8}\Z")
# Numbers that are never secrets, even right after «код»: phones, amounts, dates, times,
# years and case numbers.
SAFE_NUMBER = st.one_of(
    PHONE_WRITTEN,
    st.builds(
        "{}{}".format,
        st.integers(min_value=1, max_value=9_999_999),
        st.sampled_from([" руб", " руб.", "р.", " ₽", " рублей", " тыс. руб", "₽"]),
    ),
    st.builds(
        lambda n, unit: f"{n:,}".replace(",", " ") + unit,
        st.integers(min_value=1000, max_value=9_999_999),
        st.sampled_from([" руб", " ₽"]),
    ),
    st.dates().map(lambda d: d.strftime("%d.%m.%Y")),
    st.times().map(lambda t: t.strftime("%H:%M")),
    st.integers(min_value=1990, max_value=2030).flatmap(
        lambda y: st.sampled_from([f"{y} г.", f"{y} года", f"{y}г", f"{y} году"])
    ),
    st.builds(
        "{:02d}-{:06d}".format,
        st.integers(min_value=20, max_value=30),
        st.integers(min_value=1, max_value=999_999),
    ),
)
TELEGRAM_NAME = st.from_regex(r"\A[a-z][a-z0-9_]{4,31}\Z")
DOMAIN = st.tuples(
    st.from_regex(r"\A[a-w][a-z0-9]{2,12}(-[a-z0-9]{1,6})?\Z"),
    st.sampled_from(["ru", "com", "net", "su", "online"]),
).map(".".join)
LINK_WRITTEN = st.tuples(
    DOMAIN,
    st.sampled_from(["", "https://", "http://www."]),
    st.sampled_from(["", "/login", "/x?y=1"]),
).map(lambda t: f"{t[1]}{t[0]}{t[2]}")
IDENTIFIER = st.one_of(
    PHONE_WRITTEN.map(lambda p: ("phone", p)),
    LINK_WRITTEN.map(lambda link: ("link", link)),
    TELEGRAM_NAME.map(lambda name: ("messenger", f"@{name}")),
    TELEGRAM_NAME.map(lambda name: ("messenger", f"https://t.me/{name}")),
)


def without_password_words(text: str) -> bool:
    return not re.search(r"парол|password|пасс", text, re.IGNORECASE)


# Cards


@PROPERTY
@given(RUSSIAN_TEXT, CARD_WRITTEN, st.sampled_from([".", ",", "!", " —", ";"]), RUSSIAN_TEXT)
def test_a_card_number_in_any_text_is_replaced_by_its_last_four_digits(before, card, end, after):
    digits, written = card
    masked, findings = mask_secrets(f"{before} карта {written}{end} {after}")
    assert digits not in masked and written not in masked
    assert digits not in re.sub(r"\D", "", masked)
    assert f"•••• {digits[-4:]}" in masked
    cards = [f for f in findings if f.identifier and f.identifier.kind == "card"]
    assert [f.identifier.value for f in cards if f.identifier] == [normalize("card", digits).value]
    assert cards[0].kind == "card" and cards[0].display == f"•••• {digits[-4:]}"


@PROPERTY
@given(CARD, st.integers(min_value=1, max_value=9), st.booleans())
def test_a_number_failing_the_luhn_check_is_left_alone(digits, shift, in_fours):
    wrong = digits[:-1] + str((int(digits[-1]) + shift) % 10)
    # Beyond sixteen digits in fours, the first sixteen may be a card and what follows
    # its expiry month: those are masked (see below).
    if in_fours and len(wrong) <= 16:
        wrong = grouped(wrong, " ")
    text = f"номер заявки {wrong} от банка"
    assert mask_secrets(text) == (text, [])


@PROPERTY
@given(st.from_regex(r"\A[0-9]{20}\Z"), st.sampled_from([" ", "-"]))
def test_a_bank_account_in_fours_is_no_card(digits, separator):
    text = f"перевёл на счёт {grouped(digits, separator)}."
    assert mask_secrets(text) == (text, [])


def test_a_card_followed_by_its_expiry_and_cvv_is_masked_apart():
    masked, findings = mask_secrets("карта 4276 1600 0000 0001 12/27, CVV 123")
    assert masked == "карта •••• 0001 12/27, CVV •••"
    assert [f.kind for f in findings] == ["card", "cvv"]


@pytest.mark.parametrize(
    "text, masked",
    [
        ("с номера 89161234567 4276 1600 0000 0001", "с номера 89161234567 •••• 0001"),
        ("карта 4276 1600 0000 0001 5000 руб", "карта •••• 0001 5000 руб"),
        ("карты 4276160000000001 и 2202-2000-0000-0008", "карты •••• 0001 и •••• 0008"),
        ("МИР 2200 0000 0000 0000 004", "МИР •••• 0004"),
    ],
)
def test_it_finds_a_card_among_other_numbers(text, masked):
    assert mask_secrets(text)[0] == masked


# One-time codes


@PROPERTY
@given(RUSSIAN_TEXT, st.sampled_from(KEYWORD_PHRASES), CODE, RUSSIAN_TEXT)
def test_a_code_after_a_code_keyword_is_masked(before, keyword, code, after):
    masked, findings = mask_secrets(f"{before} {keyword} {code}. {after}")
    assert f"{keyword} ••••." in masked
    assert [f.kind for f in findings] == ["code"]
    assert describe(findings) == "Скрыто: код из SMS."


@PROPERTY
@given(WORD_TEXT, CODE, WORD_TEXT)
def test_the_same_digits_without_a_keyword_are_kept(before, code, after):
    text = f"{before} {code} {after}"
    assert mask_secrets(text) == (text, [])


@PROPERTY
@given(
    st.lists(
        st.tuples(st.sampled_from(KEYWORD_PHRASES + ["cvv", "три цифры"]), SAFE_NUMBER),
        min_size=1,
        max_size=5,
    )
)
def test_phones_amounts_dates_times_and_case_numbers_survive_next_to_keywords(pairs):
    text = ", ".join(f"{keyword} не называл, {number}" for keyword, number in pairs)
    masked, findings = mask_secrets(text)
    assert (masked, findings) == (text, [])


@pytest.mark.parametrize(
    "text, masked",
    [
        ("Код из SMS: 4827, не называл", "Код из SMS: ••••, не называл"),
        ("прислали код 123 456", "прислали код ••••"),
        ("SMS-код1234 и код 5678", "SMS-код1234 и код ••••"),
        (
            "код пришёл в 12:30 28.11.2026 с номера 900",
            "код пришёл в 12:30 28.11.2026 с номера 900",
        ),
        ("код по обращению № 123456", "код по обращению № 123456"),
        ("СМС о переводе 5000 руб и код 2025", "СМС о переводе 5000 руб и код ••••"),
        ("код на обороте карты: 321", "код на обороте карты: •••"),
    ],
)
def test_it_masks_codes_and_keeps_what_is_not_one(text, masked):
    assert mask_secrets(text)[0] == masked


# Passwords


@pytest.mark.parametrize(
    "text, masked",
    [
        ("Пароль: Qwerty123", "Пароль: ••••••"),
        ("пароль от госуслуг — Ivan!pass", "пароль от госуслуг — ••••••"),
        ("пароль был 19041985.", "пароль был ••••••."),
        ("password: hunter22", "password: ••••••"),
        ("пароль от личного кабинета qwe123", "пароль от личного кабинета ••••••"),
        ("пароль не называл", "пароль не называл"),
        ("пароль сменил вчера", "пароль сменил вчера"),
        ("пароль от госуслуг никому не говорил", "пароль от госуслуг никому не говорил"),
        ("Пассажир 1234", "Пассажир 1234"),
    ],
)
def test_it_masks_the_password_after_the_word_and_nothing_else(text, masked):
    assert mask_secrets(text)[0] == masked


# Any text


@PROPERTY
@given(
    st.lists(
        st.one_of(
            RUSSIAN_TEXT,
            CARD_WRITTEN.map(lambda card: card[1]),
            st.sampled_from(KEYWORD_PHRASES),
            CODE,
            SAFE_NUMBER,
            st.sampled_from(["cvv", "пароль:", "пароль от госуслуг", "Qwerty1!", "123"]),
        ),
        max_size=10,
    )
)
def test_masking_twice_is_masking_once(parts):
    masked, _findings = mask_secrets(" ".join(parts))
    assert mask_secrets(masked) == (masked, [])


@PROPERTY
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=80))
def test_masking_any_text_twice_is_masking_once(text):
    masked, _findings = mask_secrets(text)
    assert mask_secrets(masked) == (masked, [])


@PROPERTY
@given(RUSSIAN_TEXT)
def test_text_without_digits_or_password_words_is_unchanged(text):
    assume(without_password_words(text))
    assert mask_secrets(text) == (text, [])


def test_describe_lists_what_was_hidden():
    _masked, findings = mask_secrets(
        "карта 4276 1600 0000 0001, код из SMS 1234, потом код 5678, пароль: Qwerty1"
    )
    assert describe(findings) == ("Скрыто: номер карты •••• 0001, код из SMS (2), пароль.")
    assert describe([]) == ""


# Identifiers in free text


@PROPERTY
@given(st.lists(st.tuples(RUSSIAN_TEXT, IDENTIFIER), min_size=1, max_size=4), RUSSIAN_TEXT)
def test_it_finds_phones_links_and_telegram_names_in_any_text(pairs, tail):
    text = "".join(f"{before} {item} " for before, (_kind, item) in pairs) + tail
    found = [(i.kind, i.value) for i in find_identifiers(text)]
    expected = []
    for _before, (kind, item) in pairs:
        identifier = normalize(kind, item)
        if (identifier.kind, identifier.value) not in expected:
            expected.append((identifier.kind, identifier.value))
    assert [pair for pair in found if pair in expected] == expected
    assert len(set(found)) == len(found)


def test_it_finds_each_identifier_once_in_order():
    text = (
        "Звонили с 8 (916) 123-45-67, потом с +79161234567. Ссылка https://gosuslugi-help.ru/login"
        " и www.gosuslugi-help.ru, пишут @Ivan_Petrov и t.me/ivan_petrov; почта ivan@mail.ru"
    )
    assert [(i.kind, i.value) for i in find_identifiers(text)] == [
        ("phone", "+79161234567"),
        ("link", "gosuslugi-help.ru"),
        ("messenger", "telegram:@ivan_petrov"),
    ]


@pytest.mark.parametrize("text", ["т.е. и т.д.", "г.Москва", "Позвонил мошенник.Сказал", "12.30"])
def test_it_does_not_take_ordinary_abbreviations_for_sites(text):
    assert find_identifiers(text) == []


@PROPERTY
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=80))
def test_finding_identifiers_never_fails(text):
    for identifier in find_identifiers(text):
        assert identifier.value
