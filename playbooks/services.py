"""Playbook versioning: a published version never changes; edits go to a new draft."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Category, Playbook, PlaybookVersion, Step
from .sms_text import sms_parts as sms_parts
from .sms_text import sms_text_errors as sms_text_errors


def playbook_current_version(*, category: Category) -> PlaybookVersion | None:
    playbook = Playbook.objects.filter(category=category).select_related("current_version").first()
    return playbook.current_version if playbook else None


@transaction.atomic
def playbook_create_draft(*, playbook: Playbook, actor: User | None) -> PlaybookVersion:
    """A new draft copying the current version's steps; the existing draft if there is one."""
    playbook = Playbook.objects.select_for_update().get(pk=playbook.pk)
    draft = playbook.versions.filter(status=PlaybookVersion.Status.DRAFT).first()
    if draft:
        return draft
    last = playbook.versions.aggregate(n=Max("number"))["n"] or 0
    draft = PlaybookVersion.objects.create(playbook=playbook, number=last + 1, created_by=actor)
    if playbook.current_version_id:
        Step.objects.bulk_create(
            Step(
                version=draft,
                position=s.position,
                title=s.title,
                instruction=s.instruction,
                script=s.script,
                is_required=s.is_required,
                sms_template=s.sms_template,
                sms_delay_minutes=s.sms_delay_minutes,
                sms_trigger=s.sms_trigger,
            )
            for s in Step.objects.filter(version_id=playbook.current_version_id)
        )
    return draft


@transaction.atomic
def playbook_publish(*, version: PlaybookVersion) -> PlaybookVersion:
    """Publish a draft: it becomes the version new cases pin; the previous one is archived."""
    version = PlaybookVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != PlaybookVersion.Status.DRAFT:
        raise ValidationError(_("Опубликовать можно только черновик."))
    steps = list(version.steps.all())
    if not steps:
        raise ValidationError(_("В версии нет ни одного шага."))
    for step in steps:
        step.full_clean(exclude=["version"])
    playbook = Playbook.objects.select_for_update().get(pk=version.playbook_id)
    PlaybookVersion.objects.filter(
        playbook=playbook, status=PlaybookVersion.Status.PUBLISHED
    ).update(status=PlaybookVersion.Status.ARCHIVED)
    version.status = PlaybookVersion.Status.PUBLISHED
    version.published_at = timezone.now()
    version.save(update_fields=["status", "published_at"])
    playbook.current_version = version
    playbook.save(update_fields=["current_version"])
    return version


def step_assert_editable(step: Step) -> None:
    step.assert_editable()
