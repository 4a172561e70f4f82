"""Scammer identifiers: whatever the subscriber reported, however it was written, → one key.

The same phone, site, card or account written differently must count as one scammer, so
`normalize` returns the key (`value`) along with what staff see and what the case keeps. A card
number never leaves this module: only a keyed fingerprint and the last four digits do.

Pure: imports nothing of the project but `choices` and `phones`."""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from publicsuffixlist import PublicSuffixList
from stdnum import iban, luhn

from cases.choices import IdentifierKind
from cases.phones import normalize_msisdn

VALUE_MAX_LENGTH = 500
SENDER_MAX_LENGTH = 64


@dataclass(frozen=True)
class Normalized:
    kind: str  # an IdentifierKind value
    value: str  # the key: the same identifier written differently gives the same value
    display: str  # what staff see
    raw: str  # what the case keeps as reported; never a full card number


def normalize(kind: str, text: str) -> Normalized:
    """The identifier's key, display and raw form; a bad value is refused with a message
    for the field ("value"), an unknown kind for "kind"."""
    normalizer = _NORMALIZERS.get(kind)
    if normalizer is None:
        raise ValidationError({"kind": _("Неизвестный тип идентификатора.")})
    text = (text or "").strip()
    if not text:
        raise ValidationError({"value": _("Укажите значение.")})
    return normalizer(text)


def card_fingerprint(digits: str) -> str:
    """A keyed hash of the card number. Keyed, because the card space is small enough to
    hash every number: without the key the fingerprints say nothing."""
    return hmac.new(_card_key(), digits.encode(), hashlib.sha256).hexdigest()


def _card_key() -> bytes:
    key = getattr(settings, "INTEL_CARD_HASH_KEY", None)
    if key:
        return key.encode() if isinstance(key, str) else bytes(key)
    # A key of its own derived from SECRET_KEY, so that the fingerprints are not a
    # by-product of anything else signed with it.
    label = b"cases.identifiers.card_fingerprint"
    return hmac.new(settings.SECRET_KEY.encode(), label, hashlib.sha256).digest()


def _invalid(message: str) -> ValidationError:
    return ValidationError({"value": message})


def _format_phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_valid_number(number):
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _phone(text: str) -> Normalized:
    try:
        value = normalize_msisdn(text)
    except ValidationError:
        digits = re.sub(r"[^0-9+]", "", text)
        # Short numbers and spoofed foreign numbers are still worth counting, as digits.
        if not re.fullmatch(r"\+?[0-9]{3,15}", digits):
            raise _invalid(_("Номер указан неверно.")) from None
        try:
            # "8 916 123-45-67 доб." is refused as a whole but its digits are a number:
            # without this the value would not normalize to itself.
            value = normalize_msisdn(digits)
        except ValidationError:
            value = digits
    return Normalized(IdentifierKind.PHONE.value, value, _format_phone(value), value)


def _sender(text: str) -> Normalized:
    value = re.sub(r"\s+", " ", text).upper()[:SENDER_MAX_LENGTH].strip()
    return Normalized(IdentifierKind.SENDER.value, value, value, value)


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    # The list shipped with the package; an unknown top-level domain is no site.
    return PublicSuffixList(accept_unknown=False)


_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*://", re.IGNORECASE)
_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?")


def _host(text: str) -> str:
    """The URL's host, lower-case Unicode (IDNA-decoded), or "" when there is none."""
    url = text if _SCHEME.match(text) else "http://" + text.removeprefix("//")
    try:
        host = (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:  # "[abc": urlsplit refuses a broken IPv6 host
        return ""
    if not host:
        return ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        ascii_host = host.lower().encode("idna")
        if len(ascii_host) > 253:
            return ""
        labels = ascii_host.decode().split(".")
        host = ascii_host.decode("idna")
    except (UnicodeError, ValueError):
        return ""
    if not all(_HOST_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        return ""
    return host


def _link(text: str) -> Normalized:
    host = _host(text)
    if not host:
        raise _invalid(_("Ссылка указана неверно."))
    try:
        ipaddress.ip_address(host)
    except ValueError:
        value = _public_suffixes().privatesuffix(host)
    else:
        value = host
    if not value:
        raise _invalid(_("Ссылка указана неверно."))
    display = host[4:] if host.startswith("www.") and host != value else host
    return Normalized(IdentifierKind.LINK.value, value, display, text[:VALUE_MAX_LENGTH])


def _card(text: str) -> Normalized:
    digits = re.sub(r"[\s\-]", "", text)
    if not re.fullmatch(r"[0-9]{13,19}", digits) or not luhn.is_valid(digits):
        raise _invalid(_("Номер карты указан неверно."))
    masked = "•••• " + digits[-4:]
    return Normalized(IdentifierKind.CARD.value, "card:" + card_fingerprint(digits), masked, masked)


_TELEGRAM = re.compile(
    r"(?:(?P<word>telegram|телеграмм?|телега|tg|тг)(?:\s*[:\-—]\s*|\s+))?"
    r"(?:(?P<link>(?:https?://)?(?:www\.)?(?:t|telegram)\.me/(?:s/)?)@?|(?P<at>@))?"
    r"(?P<name>[a-z0-9_]+)/?"
    r"(?:\s*\(\s*(?:telegram|телеграмм?)\s*\))?",
    re.IGNORECASE,
)
_TELEGRAM_USERNAME = re.compile(r"[a-z][a-z0-9_]{4,31}")
_PHONE_APP = re.compile(
    r"(?<![^\W\d_])(?:(?P<whatsapp>whats\s*app|ватсап|вотсап|вацап|wa)|(?P<viber>viber|вайбер))"
    r"(?![^\W\d_])",
    re.IGNORECASE,
)
_PHONE_IN_TEXT = re.compile(r"\+?[0-9][0-9\s()\-.]{5,}[0-9]")


def _messenger(text: str) -> Normalized:
    kind = IdentifierKind.MESSENGER.value
    telegram = _TELEGRAM.fullmatch(text)
    if telegram and (telegram["word"] or telegram["link"] or telegram["at"]):
        name = telegram["name"].lower()
        if _TELEGRAM_USERNAME.fullmatch(name):
            display = f"@{name} (Telegram)"
            return Normalized(kind, f"telegram:@{name}", display, display)
    app = _PHONE_APP.search(text)
    if app:
        rest = text[: app.start()] + " " + text[app.end() :]
        phone = _PHONE_IN_TEXT.search(rest)
        try:
            msisdn = normalize_msisdn(phone.group()) if phone else ""
        except ValidationError:
            msisdn = ""
        if msisdn:
            name, title = ("whatsapp", "WhatsApp") if app["whatsapp"] else ("viber", "Viber")
            display = f"{_format_phone(msisdn)} ({title})"
            return Normalized(kind, f"{name}:{msisdn}", display, display)
    raise _invalid(_("Укажите @имя в Telegram или номер в WhatsApp/Viber."))


def _account(text: str) -> Normalized:
    compact = re.sub(r"[\s\-]", "", text).upper()
    if re.fullmatch(r"[0-9]{20}", compact):
        # A Russian account reads as its parts: ledger, currency, key, branch, account.
        d = compact
        display = f"{d[:5]} {d[5:8]} {d[8]} {d[9:13]} {d[13:]}"
        return Normalized(IdentifierKind.ACCOUNT.value, compact, display, display)
    if iban.is_valid(compact):
        value = iban.compact(compact)
        display = iban.format(value)
        return Normalized(IdentifierKind.ACCOUNT.value, value, display, display)
    raise _invalid(_("Номер счёта указан неверно."))


_NORMALIZERS = {
    IdentifierKind.PHONE.value: _phone,
    IdentifierKind.SENDER.value: _sender,
    IdentifierKind.LINK.value: _link,
    IdentifierKind.CARD.value: _card,
    IdentifierKind.MESSENGER.value: _messenger,
    IdentifierKind.ACCOUNT.value: _account,
}
