"""Phone numbers: any common Russian format in, E.164 out. Used by every way in (forms, API,
SMS callbacks, calls), so it depends on nothing of the project."""

from __future__ import annotations

import functools
import re
import zoneinfo

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from phonenumbers import timezone as pn_timezone


def normalize_msisdn(raw: str) -> str:
    """Any common Russian format → E.164; a number that cannot be a phone is refused."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Укажите номер телефона."), code="required")
    if len(re.sub(r"\D", "", text)) > 15 or re.search(r"[^\d\s()+\-.]", text):
        raise ValidationError(_("Номер телефона указан неверно."), code="invalid")
    try:
        number = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("Номер телефона указан неверно."), code="invalid") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("Такого номера телефона не существует."), code="invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(zone: str) -> str:
    """An IANA zone name the tz database knows ("Asia/Novosibirsk"); anything else, a
    directory of it ("America") or a path included, is refused."""
    if zone not in _known_zones():
        raise ValidationError({"time_zone": _("Неизвестный часовой пояс.")}, code="invalid")
    return zone


def default_time_zone(msisdn: str) -> str:
    """The number's zone when the numbering plan pins one (landlines); else Moscow.

    A Russian mobile number maps to many zones, so the specialist asks and sets it."""
    zones = pn_timezone.time_zones_for_number(phonenumbers.parse(msisdn))
    if len(zones) == 1 and zones[0] != pn_timezone.UNKNOWN_TIMEZONE:
        return zones[0]
    return "Europe/Moscow"
