"""The SMS text rules: no links, not empty, and how many parts a text takes. Used by the
playbooks (step templates), the SMS side and the staff form's counter (static/js), so it
depends on nothing of the project."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

# Links in reminder texts teach subscribers to tap links in SMS, which is what scammers rely on.
_LINK = re.compile(r"(https?://|www\.|\b[\w-]+\.(ru|рф|com|net|org|su|info|online|me)\b)", re.I)
# GSM 03.38: the basic table (one septet) and the extension table (escape + one: two septets).
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = set("^{}\\[~]|€\f")
# (single SMS, per part of a long one): septets for GSM-7, UTF-16 code units for UCS-2.
_LIMITS = {"gsm7": (160, 153), "ucs2": (70, 67)}


@dataclass(frozen=True)
class SmsSplit:
    """How a text goes out: its encoding and its parts (text of each). The staff page's
    count, the stored count and the number of submits are all len(parts)."""

    encoding: str  # "gsm7" or "ucs2"
    parts: list[str]


def _units(ch: str, encoding: str) -> int:
    if encoding == "gsm7":
        return 2 if ch in _GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1  # a surrogate pair in UTF-16


def sms_split(text: str) -> SmsSplit:
    """GSM 03.38 when every character fits it (the extension table's count two), UCS-2
    otherwise; split at character boundaries, so a part never ends inside a surrogate pair or
    between an escape and its character."""
    gsm = all(ch in _GSM7 or ch in _GSM7_EXTENSION for ch in text)
    encoding = "gsm7" if gsm else "ucs2"
    single, per_part = _LIMITS[encoding]
    if sum(_units(ch, encoding) for ch in text) <= single:
        return SmsSplit(encoding, [text])
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        size = _units(ch, encoding)
        if used + size > per_part:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += size
    parts.append("".join(current))
    return SmsSplit(encoding, parts)


def sms_text_errors(text: str) -> list[str]:
    errors = []
    if _LINK.search(text):
        errors.append(_("В тексте SMS не должно быть ссылок: абоненты не должны привыкать к ним."))
    if not text.strip():
        errors.append(_("Текст SMS пуст."))
    return errors


def sms_parts(text: str) -> tuple[int, int]:
    """(characters, parts), the parts being exactly those sms_split() sends."""
    return len(text), len(sms_split(text).parts)
