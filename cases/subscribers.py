"""Writes on subscribers. Below the case services: the SMS side (opt-out on «СТОП») and the
case services both use these."""

from __future__ import annotations

from typing import Any

from auditlog.signals import accessed
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Subscriber
from .phones import default_time_zone, normalize_msisdn, validate_time_zone


def subscriber_get_or_create(
    *, phone: str, name: str = "", time_zone: str | None = None
) -> tuple[Subscriber, bool]:
    msisdn = normalize_msisdn(phone)
    if time_zone:
        validate_time_zone(time_zone)
    defaults: dict[str, Any] = {"time_zone": time_zone or default_time_zone(msisdn)}
    if name:
        defaults["name"] = name
    # Most callers are known numbers: one SELECT, and a savepoint only for a new number.
    try:
        return Subscriber.objects.get(msisdn=msisdn), False
    except Subscriber.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return Subscriber.objects.create(msisdn=msisdn, **defaults), True
    except IntegrityError:
        # Two intakes for a new number at once: the other one created it.
        return Subscriber.objects.get(msisdn=msisdn), False


@transaction.atomic
def subscriber_set_opt_out(*, subscriber: Subscriber, opt_out: bool) -> Subscriber:
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.sms_opt_out != opt_out:
        subscriber.sms_opt_out = opt_out
        subscriber.sms_opt_out_at = timezone.now() if opt_out else None
        subscriber.save(update_fields=["sms_opt_out", "sms_opt_out_at"])
    return subscriber


def subscriber_card_accessed(*, subscriber: Subscriber) -> None:
    """Opening a subscriber's card is a read of personal data: the audit log keeps it."""
    accessed.send(sender=Subscriber, instance=subscriber)
