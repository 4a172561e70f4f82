"""Free text from subscribers: hide the secrets before it is stored, find the scammer's
identifiers in it.

Card numbers, one-time codes, CVV codes and passwords are replaced with bullets and reported
as findings; everything else (phones, amounts, dates, case numbers) is left as written. Pure:
imports nothing of the project but `identifiers` and `choices`."""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import luhn

from cases.choices import IdentifierKind
from cases.identifiers import Normalized, normalize

CARD_MASK = "•••• "
CODE_MASK = "••••"
CVV_MASK = "•••"
PASSWORD_MASK = "••••••"


@dataclass(frozen=True)
class Finding:
    kind: str  # "card", "code", "cvv", "password"
    display: str  # what replaced it in the text
    identifier: Normalized | None  # the card as a scammer identifier; None for the rest


def mask_secrets(text: str) -> tuple[str, list[Finding]]:
    """The text with its secrets replaced, and what was replaced, in the order masked."""
    findings: list[Finding] = []
    while True:
        # Masking shortens the text and can bring a number into a keyword's reach: repeat
        # until nothing is found, so that masking the result again finds nothing.
        found: list[Finding] = []
        for mask in (_mask_cards, _mask_cvv, _mask_codes, _mask_passwords):
            text = mask(text, found)
        if not found:
            return text, findings
        findings += found


def describe(findings: list[Finding]) -> str:
    """What was hidden, for the specialist: «Скрыто: номер карты •••• 1234, код из SMS.»"""
    if not findings:
        return ""
    labels = {
        "code": _("код из SMS"),
        "cvv": _("код с оборота карты"),
        "password": _("пароль"),
    }
    counts = Counter(
        _("номер карты %(card)s") % {"card": f.display} if f.kind == "card" else labels[f.kind]
        for f in findings
    )
    parts = [label if n == 1 else f"{label} ({n})" for label, n in counts.items()]
    return _("Скрыто: %(what)s.") % {"what": ", ".join(parts)}


# After the number: an amount or a year, not a code ("5000 руб", "2025 г.").
_NOT_A_CODE_AFTER = re.compile(
    r"\s*(?:руб|р\.|р(?![^\W\d_])|₽|тыс|млн|коп|\$|€|usd|eur|долл|евро|%"
    r"|г\.|г(?![^\W\d_])|год|гг)",
    re.IGNORECASE,
)
# Numbers as written: digit groups joined by single spaces or dashes ("4276 1600-0000 0004").
_RUN = re.compile(r"(?<![0-9])[0-9]+(?:[ \u00a0\-][0-9]+)*(?![0-9])")
_SEPARATOR = re.compile(r"([ \u00a0\-])")


def _groups(run: str) -> tuple[list[str], list[str]]:
    parts = _SEPARATOR.split(run)
    return parts[0::2], parts[1::2]


def _card_shaped(lengths: list[int]) -> bool:
    total = sum(lengths)
    if not 13 <= total <= 19:
        return False
    if len(lengths) == 1 or lengths in ([4, 6, 5], [4, 6, 4]):
        return True
    # In fours, the last group shorter when the number is not a multiple of four.
    return all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4


def _card_at(groups: list[str], lengths: list[int], start: int) -> int | None:
    """The end (exclusive) of a card number written from groups[start], or None."""
    # A number in fours goes on to its previous group: its middle is no card.
    continued = start > 0 and lengths[start - 1] == 4
    ends = [
        end
        for end in range(start + 1, min(len(groups), start + 6) + 1)
        if _card_shaped(lengths[start:end]) and not (continued and end - start > 1)
    ]

    # The rest of the run first (one number), then the usual sixteen digits ("4276 1600
    # 0000 0001 12/27": a card and the month it expires), then the longest.
    def preference(end: int) -> tuple[bool, bool, int]:
        return end != len(groups), sum(lengths[start:end]) != 16, -end

    for end in sorted(ends, key=preference):
        if luhn.is_valid("".join(groups[start:end])):
            return end
    return None


def _card_spans(groups: list[str], amount_follows: bool) -> list[tuple[int, int]]:
    lengths = [len(g) for g in groups]
    if lengths == [4] * 5 and not amount_follows:
        return []  # twenty digits in fours: a bank account, not a card and an amount
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(groups):
        end = _card_at(groups, lengths, start)
        if end is None:
            start += 1
        else:
            spans.append((start, end))
            start = end
    digits = "".join(groups)
    if not spans and 13 <= len(digits) <= 19 and luhn.is_valid(digits):
        spans.append((0, len(groups)))  # grouped some other way, but a valid number
    return spans


def _mask_cards(text: str, found: list[Finding]) -> str:
    def replace(match: re.Match[str]) -> str:
        groups, separators = _groups(match.group())
        ends = dict(_card_spans(groups, bool(_NOT_A_CODE_AFTER.match(text, match.end()))))
        if not ends:
            return match.group()
        out = []
        i = 0
        while i < len(groups):
            if i in ends:
                identifier = normalize(IdentifierKind.CARD.value, "".join(groups[i : ends[i]]))
                found.append(Finding("card", identifier.display, identifier))
                out.append(identifier.display)
                i = ends[i]
            else:
                out.append(groups[i])
                i += 1
            if i <= len(separators):
                out.append(separators[i - 1])
        return "".join(out)

    return _RUN.sub(replace, text)


_CODE_WORD = re.compile(r"(?<![^\W\d_])(?:код|смс|sms|otp|code|пароль\s+из)", re.IGNORECASE)
_CVV_WORD = re.compile(
    r"(?<![^\W\d_])(?:cvv2?|cvc2?|код\w*\s+на\s+оборот\w*|три\s+цифры|тр[её]х\s+цифр)",
    re.IGNORECASE,
)
# Before the number: part of a phone, a date, a time, a numbered thing or a masked card.
_NOT_A_CODE_BEFORE = re.compile(
    r"(?:\+|[0-9][.,:/]|№\s*|#|\([0-9]{3,5}\)\s*|" + re.escape(CARD_MASK) + r")$"
)
_CODE_WINDOW = 40
_CVV_WINDOW = 30


def _standalone_numbers(text: str) -> list[tuple[int, int, list[str]]]:
    """Numbers that are not part of a phone, a date, a time, an amount or a word:
    (start, end, digit groups)."""
    numbers = []
    for match in _RUN.finditer(text):
        start, end = match.span()
        groups, separators = _groups(match.group())
        # A group glued to a word belongs to it ("cvv2 123", "1234abc").
        if start and _is_letter(text[start - 1]):
            start += len(groups[0]) + 1
            groups, separators = groups[1:], separators[1:]
        if groups and end < len(text) and _is_letter(text[end]):
            end -= len(groups[-1]) + 1
            groups, separators = groups[:-1], separators[:-1]
        if not groups:
            continue
        before = text[max(0, start - 12) : start]
        if _NOT_A_CODE_BEFORE.search(before) or _NOT_A_CODE_AFTER.match(text, end):
            continue
        if re.match(r"[.,:/][0-9]|\)\s*[0-9]", text[end : end + 3]):  # a date, a time, "(916) 1…"
            continue
        numbers.append((start, end, groups))
    return numbers


def _is_letter(char: str) -> bool:
    return char.isalpha() or char == "_"


def _replace_spans(text: str, spans: list[tuple[int, int, str]]) -> str:
    out = []
    last = 0
    for start, end, mask in sorted(spans):
        out += [text[last:start], mask]
        last = end
    return "".join(out) + text[last:]


def _mask_codes(text: str, found: list[Finding]) -> str:
    spans: list[tuple[int, int, str]] = []
    for start, end, groups in _standalone_numbers(text):
        digits = "".join(groups)
        # "123 456" is a code as some services send it; "26-000123", a case number.
        if not 4 <= len(digits) <= 8 or (len(groups) > 1 and min(map(len, groups)) < 3):
            continue
        if _CODE_WORD.search(text, max(0, start - _CODE_WINDOW), start):
            spans.append((start, end, CODE_MASK))
            found.append(Finding("code", CODE_MASK, None))
    return _replace_spans(text, spans)


def _mask_cvv(text: str, found: list[Finding]) -> str:
    spans: list[tuple[int, int, str]] = []
    for start, end, groups in _standalone_numbers(text):
        if len(groups) != 1 or len(groups[0]) != 3:
            continue
        window = max(0, start - _CVV_WINDOW - 20)
        words = _CVV_WORD.finditer(text, window, start)
        if any(word.end() >= start - _CVV_WINDOW for word in words):
            spans.append((start, end, CVV_MASK))
            found.append(Finding("cvv", CVV_MASK, None))
    return _replace_spans(text, spans)


_PASSWORD_WORD = re.compile(
    r"(?<![^\W\d_])(?:парол[а-яё]*|password|пасс(?![^\W\d_]))", re.IGNORECASE
)
_TOKEN = re.compile(r"\S+")
_LEADING = ":—–-=«\"'(“„"
_TRAILING = ".,;:)»\"'”"
_FILLERS = {"это", "был", "была", "было", "такой", "такая"}
# What follows «пароль» and is not one.
_NOT_PASSWORDS = {
    "от", "для", "не", "нет", "из", "сменил", "сменила", "поменял", "поменяла", "госуслуг",
    "госуслуги", "gosuslugi.ru", "госуслуги.рф", "никому", "sms", "смс",
}  # fmt: skip


def _password_like(word: str) -> bool:
    if len(word) < 4 or "•" in word or word.lower() in _NOT_PASSWORDS:
        return False
    has_letter = any(c.isalpha() for c in word)
    has_symbol = any(not c.isalnum() and c not in "-'’" for c in word)
    return any(c.isdigit() for c in word) or (has_letter and has_symbol)


def _mask_passwords(text: str, found: list[Finding]) -> str:
    spans: list[tuple[int, int, str]] = []
    for keyword in _PASSWORD_WORD.finditer(text):
        if spans and keyword.start() < spans[-1][1]:
            continue
        # «пароль от госуслуг Qwerty1»: up to two words naming the service may come first.
        service_words = 0
        for token in _TOKEN.finditer(text, keyword.end()):
            if token.start() - keyword.end() > 80:
                break
            raw = token.group()
            core = raw.lstrip(_LEADING).rstrip(_TRAILING)
            start = token.start() + len(raw) - len(raw.lstrip(_LEADING))
            if not core or core.lower() in _FILLERS:
                continue
            if _password_like(core):
                spans.append((start, start + len(core), PASSWORD_MASK))
                found.append(Finding("password", PASSWORD_MASK, None))
                break
            if core.lower() in ("от", "для") and not service_words:
                service_words = 4  # the preposition and up to two words
            if service_words and core.isalpha():
                service_words -= 1
                if service_words:
                    continue
            break
    return _replace_spans(text, spans)


_PHONE = re.compile(
    r"(?<![\w+])(?:\+7|8)[\s\-]?\(?[0-9]{3}\)?[\s\-]?[0-9]{3}[\s\-]?[0-9]{2}[\s\-]?[0-9]{2}"
    r"(?![0-9])"
)
_LINK = re.compile(
    r"https?://[^\s<>\"«»]+"
    r"|(?<![\w@.\-])(?:[a-zа-яё0-9][a-zа-яё0-9\-]*\.)+(?:[a-zа-яё]{2,}|xn--[a-z0-9\-]+)"
    r"(?![\w@])(?:/[^\s<>\"«»]*)?",
    re.IGNORECASE,
)
_HANDLE = re.compile(r"(?<![\w@.])@[a-z][a-z0-9_]{4,31}(?![\w@])", re.IGNORECASE)
_MESSENGER_HOSTS = ("t.me", "telegram.me", "wa.me")


def find_identifiers(text: str) -> list[Normalized]:
    """Phones, sites and Telegram names mentioned in free text, each once, in the order they
    appear. What does not normalize is skipped: this never refuses the text."""
    found: list[tuple[int, Normalized]] = []
    # What a link took is not a phone or a name too ("wa.me/79161234567"): the spans taken,
    # kept sorted by start; they never overlap.
    starts: list[int] = []
    ends: list[int] = []
    known: dict[tuple[str, str], Normalized | None] = {}

    def add(match: re.Match[str], kind: str, item: str) -> None:
        start, end = match.span()
        i = bisect.bisect_right(starts, start)
        if (i and ends[i - 1] > start) or (i < len(starts) and starts[i] < end):
            return
        if (kind, item) not in known:
            try:
                known[kind, item] = normalize(kind, item)
            except ValidationError:
                known[kind, item] = None
        identifier = known[kind, item]
        if identifier is not None:
            starts.insert(i, start)
            ends.insert(i, end)
            found.append((start, identifier))

    for match in _LINK.finditer(text or ""):
        link = match.group().rstrip(".,;:!?)»\"'")
        bare = re.sub(r"^https?://", "", link, flags=re.IGNORECASE)
        host = bare.split("/")[0].lower()
        if bare == link and re.match(r"[^\W\d_]\.", host):
            continue  # "г.Москва", "т.е.": an abbreviation, unless written as a URL
        is_messenger = host.removeprefix("www.") in _MESSENGER_HOSTS
        kind = IdentifierKind.MESSENGER if is_messenger else IdentifierKind.LINK
        add(match, kind.value, link)
    for match in _HANDLE.finditer(text or ""):
        add(match, IdentifierKind.MESSENGER.value, match.group())
    for match in _PHONE.finditer(text or ""):
        add(match, IdentifierKind.PHONE.value, match.group())

    result: list[Normalized] = []
    seen: set[tuple[str, str]] = set()
    for _start, identifier in sorted(found, key=lambda pair: pair[0]):
        if (identifier.kind, identifier.value) not in seen:
            seen.add((identifier.kind, identifier.value))
            result.append(identifier)
    return result
