"""Calls on 611 as the PBX reports them (Zammad's generic CTI events), and the callbacks owed
to those who hung up waiting."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.models import Case, Subscriber


class CtiEndpoint(models.Model):
    """One PBX: its push URL carries a token, kept here only as a SHA-256 digest."""

    name = models.CharField(_("название"), max_length=100, unique=True)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("создан"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("отозван"), null=True, blank=True)

    class Meta:
        verbose_name = _("АТС (CTI)")
        verbose_name_plural = _("АТС (CTI)")

    def __str__(self) -> str:
        return self.name


class Direction(models.TextChoices):
    IN = "in", _("входящий")
    OUT = "out", _("исходящий")


# Missed: an inbound call that ended without an answer (the log, the API, the report).
MISSED_CALL = Q(direction=Direction.IN, answered_at__isnull=True, ended_at__isnull=False)


class Call(models.Model):
    """A call by its PBX id: rang, answered (by whom), ended (why). The subscriber side is
    `from` for inbound calls and `to` for outbound ones; anonymous leaves `msisdn` empty."""

    endpoint = models.ForeignKey(CtiEndpoint, on_delete=models.PROTECT, related_name="calls")
    call_id = models.CharField(_("id звонка"), max_length=128, db_index=True)
    direction = models.CharField(_("направление"), max_length=3, choices=Direction.choices)
    from_number = models.CharField(_("с номера"), max_length=64, blank=True)
    to_number = models.CharField(_("на номер"), max_length=64, blank=True)
    msisdn = models.CharField(_("номер абонента"), max_length=16, blank=True, db_index=True)
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    queue = models.CharField(_("очередь"), max_length=100, blank=True)
    rang_at = models.DateTimeField(_("звонок"), null=True, blank=True)
    answered_at = models.DateTimeField(_("ответ"), null=True, blank=True)
    ended_at = models.DateTimeField(_("завершён"), null=True, blank=True)
    cause = models.CharField(_("причина завершения"), max_length=64, blank=True)
    answering_number = models.CharField(_("ответивший номер"), max_length=64, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="answered_calls",
        verbose_name=_("ответил"),
    )
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    callback = models.ForeignKey(
        "Callback", on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    popped_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("звонок")
        verbose_name_plural = _("звонки")
        ordering = ["-rang_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "call_id"], name="call_unique_per_pbx")
        ]
        indexes = [
            models.Index(fields=["-rang_at", "-id"], name="call_rang_idx"),
            models.Index(fields=["subscriber", "-rang_at"], name="call_subscriber_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.call_id} {self.get_direction_display()}"

    @property
    def was_missed(self) -> bool:
        return self.direction == Direction.IN and self.ended_at is not None and not self.answered_at

    @property
    def wait_seconds(self) -> int | None:
        end = self.answered_at or self.ended_at
        return int((end - self.rang_at).total_seconds()) if end and self.rang_at else None

    @property
    def talk_seconds(self) -> int | None:
        if self.answered_at and self.ended_at:
            return int((self.ended_at - self.answered_at).total_seconds())
        return None


class CallEvent(models.Model):
    """Each (call, event) once: a replayed event changes nothing."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    event = models.CharField(max_length=16)
    received_at = models.DateTimeField(auto_now_add=True)
    payload = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["call", "event"], name="call_event_once")]

    def __str__(self) -> str:
        return f"{self.call_id} {self.event}"


class Callback(models.Model):
    """«Перезвонить»: one open item per subscriber, whatever the number of missed calls."""

    class Status(models.TextChoices):
        OPEN = "open", _("нужно перезвонить")
        ESCALATED = "escalated", _("у старшего смены")
        REACHED = "reached", _("дозвонились")
        CLOSED = "closed", _("закрыт")

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="callbacks")
    status = models.CharField(
        _("статус"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    due_at = models.DateTimeField(_("перезвонить до"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="callbacks",
        verbose_name=_("исполнитель"),
    )
    missed_calls = models.PositiveIntegerField(_("пропущенных звонков"), default=1)
    created_at = models.DateTimeField(_("создан"), auto_now_add=True)
    closed_at = models.DateTimeField(_("закрыт"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("обратный звонок")
        verbose_name_plural = _("обратные звонки")
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber"],
                condition=Q(status__in=["open", "escalated"]),
                name="callback_one_open_per_subscriber",
            )
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="callback_queue_idx")]

    def __str__(self) -> str:
        return f"{self.subscriber} {self.get_status_display()}"

    @property
    def is_open(self) -> bool:
        return self.status in CALLBACK_OPEN


# Owed: not yet reached or closed (an escalated one is the supervisor's).
CALLBACK_OPEN = (Callback.Status.OPEN, Callback.Status.ESCALATED)


class CallbackAttempt(models.Model):
    class Result(models.TextChoices):
        REACHED = "reached", _("дозвонились")
        NO_ANSWER = "no_answer", _("не отвечает")
        BUSY = "busy", _("занято")
        WRONG_NUMBER = "wrong_number", _("неверный номер")

    callback = models.ForeignKey(Callback, on_delete=models.CASCADE, related_name="attempts")
    result = models.CharField(_("результат"), max_length=16, choices=Result.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    call = models.ForeignKey(Call, on_delete=models.SET_NULL, null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("попытка дозвона")
        verbose_name_plural = _("попытки дозвона")

    def __str__(self) -> str:
        return f"{self.callback_id} {self.get_result_display()}"
