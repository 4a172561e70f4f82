from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import Case, Subscriber
from playbooks.models import Step


class Reminder(models.Model):
    """One follow-up SMS. The row is the source of truth: the dispatcher picks due rows;
    the broker only ever carries ids."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Запланировано")
        SENDING = "sending", _("Отправляется")
        SENT = "sent", _("Отправлено")
        DELIVERED = "delivered", _("Доставлено")
        FAILED = "failed", _("Ошибка")
        CANCELLED = "cancelled", _("Отменено")
        SKIPPED_OPT_OUT = "skipped_opt_out", _("Пропущено: отказ от SMS")
        UNKNOWN = "unknown", _("Неизвестно: проверить вручную")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reminders")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.PROTECT, related_name="reminders")
    step = models.ForeignKey(
        Step, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    text = models.TextField(_("текст"))
    parts = models.PositiveSmallIntegerField(_("частей SMS"), default=1)
    send_after = models.DateTimeField(_("не раньше"))
    # True when quiet hours moved send_after to the subscriber's morning.
    shifted_by_quiet_hours = models.BooleanField(_("перенесено из-за тихих часов"), default=False)
    status = models.CharField(
        _("статус"), max_length=16, choices=Status.choices, default=Status.SCHEDULED
    )
    attempts = models.PositiveSmallIntegerField(_("попыток"), default=0)
    last_error = models.TextField(_("последняя ошибка"), blank=True)
    gateway_message_id = models.CharField(_("id в шлюзе"), max_length=128, blank=True)
    # case + step + version for playbook SMS, or the specialist's request id: never twice.
    dedupe_key = models.CharField(_("ключ уникальности"), max_length=200, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("создано"), default=timezone.now)
    updated_at = models.DateTimeField(_("изменено"), auto_now=True)
    claimed_at = models.DateTimeField(_("взято в отправку"), null=True, blank=True)
    sent_at = models.DateTimeField(_("отправлено"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("доставлено"), null=True, blank=True)

    class Meta:
        ordering = ["send_after", "id"]
        verbose_name = _("SMS-напоминание")
        verbose_name_plural = _("SMS-напоминания")
        indexes = [
            # The dispatcher's claim query: due scheduled rows, oldest first.
            models.Index(
                fields=["send_after"], name="reminder_due_idx", condition=Q(status="scheduled")
            ),
            models.Index(
                fields=["claimed_at"], name="reminder_sending_idx", condition=Q(status="sending")
            ),
            models.Index(fields=["case", "send_after"], name="reminder_case_idx"),
            models.Index(fields=["gateway_message_id"], name="reminder_gateway_idx"),
            models.Index(fields=["created_at", "status"], name="reminder_created_idx"),
        ]

    def __str__(self) -> str:
        return f"SMS {self.pk} ({self.get_status_display()})"


class ReminderPart(models.Model):
    """One part of a long SMS as the SMSC took it: a temporary refusal re-submits only the
    parts missing here (same UDH reference, total and index); the SMS is delivered when every
    part's receipt says so."""

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="part_rows")
    index = models.PositiveSmallIntegerField(_("часть №"))  # 1-based, as in the UDH
    message_id = models.CharField(_("id в шлюзе"), max_length=128)
    accepted_at = models.DateTimeField(_("принята"), default=timezone.now)
    delivered_at = models.DateTimeField(_("доставлена"), null=True, blank=True)
    failed = models.BooleanField(_("не доставлена"), default=False)

    class Meta:
        ordering = ["reminder", "index"]
        constraints = [
            models.UniqueConstraint(fields=["reminder", "index"], name="reminder_part_unique"),
        ]
        indexes = [models.Index(fields=["message_id"], name="reminder_part_message_idx")]
        verbose_name = _("часть SMS")
        verbose_name_plural = _("части SMS")

    def __str__(self) -> str:
        return f"{self.reminder_id}/{self.index}"


class EarlyReceipt(models.Model):
    """A delivery receipt that came before the worker recorded what it answered (the
    always-bound receiver reads it at once; the sender records after its batch): kept until
    its message id is known, then applied."""

    message_id = models.CharField(_("id в шлюзе"), max_length=128, db_index=True)
    delivered = models.BooleanField(_("доставлено"))
    error = models.TextField(_("ошибка"), blank=True)
    received_at = models.DateTimeField(_("получено"), default=timezone.now)

    class Meta:
        verbose_name = _("ранний отчёт о доставке")
        verbose_name_plural = _("ранние отчёты о доставке")

    def __str__(self) -> str:
        return self.message_id
