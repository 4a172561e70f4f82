"""Personal data as shown to someone who may not see it in full: a subscriber's number and
name masked the agreed way, phone numbers in free text masked. Who may see what in full is
the rules' `cases.view_personal_data` (cases.access.may_see_personal_data)."""

from __future__ import annotations

from fraudcenter.logging import mask_phones


def mask_phone(msisdn: object) -> str:
    """+79161234567 → +7 916 ***-**-67: the operator code and the last two digits stay."""
    if not msisdn:
        return ""
    s = str(msisdn)
    if s.startswith("+7") and len(s) == 12:
        return f"+7 {s[2:5]} ***-**-{s[-2:]}"
    return f"{s[:4]} ***-**-{s[-2:]}" if len(s) > 6 else "***"


def mask_name(name: str | None) -> str:
    """Иван Петров → И*** П***."""
    return " ".join(f"{w[0]}***" for w in (name or "").split())


def mask_text(text: str | None) -> str:
    """Phone numbers typed into a summary, a note or an SMS: only their last two digits."""
    return mask_phones(text or "")
