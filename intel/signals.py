"""New cases and identifier links feed the counts (candidates, waves) in the same
transaction. Signals, because the cases app knows nothing of intel (it is built on cases)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from cases.models import Case, CaseIdentifier

from . import services


@receiver(post_save, sender=Case, dispatch_uid="intel-case-reported")
def count_new_case(sender: Any, instance: Case, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        services.case_reported(case=instance)


@receiver(post_save, sender=CaseIdentifier, dispatch_uid="intel-identifier-reported")
def count_new_link(sender: Any, instance: CaseIdentifier, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        # The services create links with the case object: its subscriber costs no query.
        services.identifier_reported(link=instance, subscriber_id=instance.case.subscriber_id)
