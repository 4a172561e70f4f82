"""What the center learns across cases: supervisors' decisions on identifiers, the feed of
confirmed and retracted ones for the blocking systems, and waves of one scheme."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import ScammerIdentifier
from playbooks.models import Category


class IdentifierDecision(models.Model):
    """Every decision on an identifier, in order: the review page's history, reversible."""

    identifier = models.ForeignKey(
        ScammerIdentifier, on_delete=models.CASCADE, related_name="decisions"
    )
    verdict = models.CharField(
        _("решение"), max_length=16, choices=ScammerIdentifier.Verdict.choices, blank=True
    )
    previous = models.CharField(
        _("было"), max_length=16, choices=ScammerIdentifier.Verdict.choices, blank=True
    )
    note = models.CharField(_("пояснение"), max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("когда"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["identifier", "-created_at"], name="decision_ident_idx")]
        verbose_name = _("решение по идентификатору")
        verbose_name_plural = _("решения по идентификаторам")

    def __str__(self) -> str:
        return f"{self.identifier_id}: {self.previous or '—'} → {self.verdict or '—'}"


class FeedEntry(models.Model):
    """The blocking systems' feed: one row per change, read in id order by cursor."""

    class Action(models.TextChoices):
        CONFIRMED = "confirmed", _("Подтверждён")
        RETRACTED = "retracted", _("Отозван")

    identifier = models.ForeignKey(
        ScammerIdentifier, on_delete=models.PROTECT, related_name="feed_entries"
    )
    action = models.CharField(_("действие"), max_length=16, choices=Action.choices)
    # As they were at the change: the feed never needs a join to answer.
    kind = models.CharField(_("тип"), max_length=16, choices=ScammerIdentifier.Kind.choices)
    value = models.CharField(_("значение"), max_length=500)
    display = models.CharField(_("как показывать"), max_length=200)
    created_at = models.DateTimeField(_("когда"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("запись фида")
        verbose_name_plural = _("фид для блокировок")

    def __str__(self) -> str:
        return f"{self.pk} {self.action} {self.display}"


class Sighting(models.Model):
    """One subscriber reporting one thing (an identifier, or a category) at one time: the
    waves count these for the keys reported lately, once a minute, by index."""

    key = models.CharField(max_length=64)  # "identifier:<pk>" or "category:<pk>"
    subscriber_id = models.BigIntegerField()
    case_id = models.BigIntegerField()
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["key", "seen_at"], name="sighting_key_idx"),
            # The keys reported since the last count of the waves (services.waves_detect).
            models.Index(fields=["seen_at"], name="sighting_seen_idx"),
        ]
        verbose_name = _("сообщение о схеме")
        verbose_name_plural = _("сообщения о схемах")

    def __str__(self) -> str:
        return f"{self.key} {self.seen_at:%Y-%m-%d %H:%M}"


class Wave(models.Model):
    """An identifier or a category getting noticeably more victims than usual."""

    key = models.CharField(max_length=64)
    identifier = models.ForeignKey(
        ScammerIdentifier, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(_("началась"), default=timezone.now)
    last_at = models.DateTimeField(_("последний случай"), default=timezone.now)
    subscribers = models.PositiveIntegerField(_("абонентов за час"))
    usual_per_hour = models.FloatField(_("обычно в час"))
    ended_at = models.DateTimeField(_("закончилась"), null=True, blank=True)

    class Meta:
        ordering = ["-last_at"]
        constraints = [
            # One open wave per key: a new report updates it.
            models.UniqueConstraint(
                fields=["key"], condition=Q(ended_at__isnull=True), name="wave_open_unique"
            ),
        ]
        indexes = [models.Index(fields=["-last_at"], name="wave_recent_idx")]
        verbose_name = _("волна")
        verbose_name_plural = _("волны")

    def __str__(self) -> str:
        return self.key
