"""The SMS text rules: no links, not empty, and how many parts a text takes. Used by the
playbooks (step templates), the SMS side and the staff form's counter (static/js), so it
depends on nothing of the project."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

# Links in reminder texts teach subscribers to tap links in SMS, which is what scammers rely on.
_LINK = re.compile(r"(https?://|www\.|\b[\w-]+\.(ru|рф|com|net|org|su|info|online|me)\b)", re.I)
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def sms_text_errors(text: str) -> list[str]:
    errors = []
    if _LINK.search(text):
        errors.append(_("В тексте SMS не должно быть ссылок: абоненты не должны привыкать к ним."))
    if not text.strip():
        errors.append(_("Текст SMS пуст."))
    return errors


def sms_parts(text: str) -> tuple[int, int]:
    """(characters, parts): UCS-2 for Cyrillic (70 single, 67 per part), GSM-7 (160/153)."""
    n = len(text)
    if all(ch in _GSM7 for ch in text):
        single, per_part = 160, 153
    else:
        single, per_part = 70, 67
    if n <= single:
        return n, 1
    return n, -(-n // per_part)
