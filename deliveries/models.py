"""Outbound webhooks: one row per event another system must receive (a specialist's chat
reply, later the scammer feed), written in the same transaction as the business row, and
delivered by a Celery task after commit. The row is the source of truth; the broker only
carries its id. This app knows nothing of cases: its callers build the body."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("В очереди")
        SENDING = "sending", _("Отправляется")
        RETRYING = "retrying", _("Ошибка — повторяем")
        DELIVERED = "delivered", _("Доставлено")
        FAILED = "failed", _("Не доставлено")

    # Names an entry of settings.DELIVERY_TARGETS (URL and secret): "chat", "feed".
    target = models.CharField(_("получатель"), max_length=32)
    # Standard Webhooks' webhook-id: the same on every attempt, so the receiver drops repeats.
    webhook_id = models.CharField(_("webhook-id"), max_length=64, unique=True)
    event_type = models.CharField(_("тип события"), max_length=64)
    # Deliveries with the same target and key go out one at a time, in id order (one case's
    # chat lines); an unfinished earlier one holds the later ones back.
    ordering_key = models.CharField(_("ключ очерёдности"), max_length=64)
    # The exact body that is signed: the same bytes on every attempt.
    payload = models.TextField(_("тело запроса"))
    status = models.CharField(
        _("статус"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("попыток"), default=0)
    next_attempt_at = models.DateTimeField(_("следующая попытка"), default=timezone.now)
    # When a task for it was last put on the broker: the dispatcher re-sends a lost one.
    queued_at = models.DateTimeField(_("поставлено в очередь"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("взято в отправку"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("доставлено"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("последний код ответа"), null=True)
    last_error = models.TextField(_("последняя ошибка"), blank=True)
    created_at = models.DateTimeField(_("создано"), default=timezone.now)
    updated_at = models.DateTimeField(_("изменено"), auto_now=True)

    class Meta:
        verbose_name = _("исходящий вебхук")
        verbose_name_plural = _("исходящие вебхуки")
        indexes = [
            # The dispatcher: what is due.
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due_idx",
                condition=Q(status__in=["pending", "retrying"]),
            ),
            # The reaper: rows whose worker died.
            models.Index(
                fields=["claimed_at"], name="delivery_sending_idx", condition=Q(status="sending")
            ),
            # The order check: an unfinished earlier delivery with the same key.
            models.Index(
                fields=["target", "ordering_key", "id"],
                name="delivery_order_idx",
                condition=Q(status__in=["pending", "retrying", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target} {self.webhook_id} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DELIVERED, self.Status.FAILED)


class DeliveryAttempt(models.Model):
    class Result(models.TextChoices):
        DELIVERED = "delivered", _("Доставлено")
        RETRY = "retry", _("Ошибка, будет повтор")
        FAILED = "failed", _("Отказ, без повторов")
        INTERRUPTED = "interrupted", _("Прервано: обработчик остановился")

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="log", verbose_name=_("вебхук")
    )
    number = models.PositiveSmallIntegerField(_("попытка №"))
    started_at = models.DateTimeField(_("начало"))
    duration_ms = models.PositiveIntegerField(_("длительность, мс"), null=True)
    status_code = models.PositiveSmallIntegerField(_("код ответа"), null=True)
    result = models.CharField(_("итог"), max_length=16, choices=Result.choices)
    error = models.TextField(_("ошибка"), blank=True)

    class Meta:
        ordering = ["delivery", "number", "id"]
        verbose_name = _("попытка доставки")
        verbose_name_plural = _("попытки доставки")

    def __str__(self) -> str:
        return f"#{self.number} {self.get_result_display()}"
