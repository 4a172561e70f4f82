"""A case opened for a call (its external_id is the PBX's callId) gets the call linked: the
case page shows it, and the call log knows which case it led to. A signal, because the cases
app knows nothing of calls (the calls app is built on it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from cases.models import Case

from .models import Call


@receiver(post_save, sender=Case, dispatch_uid="calls-link-case")
def link_call_to_new_case(sender: Any, instance: Case, created: bool, **kwargs: Any) -> None:
    if not created or not instance.external_id:
        return
    # One indexed update; only a recent call not yet linked (a callId is unique per PBX).
    since = timezone.now() - timedelta(days=1)
    Call.objects.filter(call_id=instance.external_id, case__isnull=True, rang_at__gte=since).update(
        case=instance
    )
