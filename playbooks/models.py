from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from .sms_text import sms_text_errors


class Priority(models.IntegerChoices):
    LOW = 1, _("Низкий")
    NORMAL = 2, _("Обычный")
    HIGH = 3, _("Высокий")
    URGENT = 4, _("Срочный")


class CategoryQuerySet(models.QuerySet["Category"]):
    def active(self) -> CategoryQuerySet:
        return self.filter(is_active=True)


class Category(models.Model):
    """A fraud category: what the subscriber reports, with its deadline rules."""

    slug = models.SlugField(_("код"), max_length=64, unique=True)
    name = models.CharField(_("название"), max_length=200)
    description = models.TextField(_("описание"), blank=True)
    sla_minutes = models.PositiveIntegerField(
        _("срок обработки, мин"), default=24 * 60, help_text=_("Время на решение обращения.")
    )
    urgent_sla_minutes = models.PositiveIntegerField(
        _("срок при раскрытом коде, мин"),
        default=30,
        help_text=_("Срок, если абонент уже сообщил код или пароль."),
    )
    default_priority = models.PositiveSmallIntegerField(
        _("приоритет по умолчанию"), choices=Priority.choices, default=Priority.NORMAL
    )
    is_active = models.BooleanField(_("активна"), default=True)
    position = models.PositiveSmallIntegerField(_("порядок"), default=0)

    objects = CategoryQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("категория мошенничества")
        verbose_name_plural = _("категории мошенничества")

    def __str__(self) -> str:
        return self.name


class Playbook(models.Model):
    """The response playbook for a category; its content lives in versions."""

    category = models.OneToOneField(
        Category, on_delete=models.PROTECT, related_name="playbook", verbose_name=_("категория")
    )
    slug = models.SlugField(_("код"), max_length=64, unique=True)
    title = models.CharField(_("название"), max_length=200)
    # The version new cases pin; set only by playbook_publish().
    current_version = models.ForeignKey(
        "PlaybookVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("текущая версия"),
    )

    class Meta:
        ordering = ["title"]
        verbose_name = _("сценарий реагирования")
        verbose_name_plural = _("сценарии реагирования")

    def __str__(self) -> str:
        return self.title


class PlaybookVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Черновик")
        PUBLISHED = "published", _("Опубликована")
        ARCHIVED = "archived", _("В архиве")

    playbook = models.ForeignKey(
        Playbook, on_delete=models.CASCADE, related_name="versions", verbose_name=_("сценарий")
    )
    number = models.PositiveIntegerField(_("номер версии"))
    status = models.CharField(
        _("статус"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    notes = models.TextField(_("что изменилось"), blank=True)
    created_at = models.DateTimeField(_("создана"), auto_now_add=True)
    published_at = models.DateTimeField(_("опубликована"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("автор"),
    )

    class Meta:
        ordering = ["playbook", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["playbook", "number"], name="playbook_version_unique"),
        ]
        verbose_name = _("версия сценария")
        verbose_name_plural = _("версии сценариев")

    def __str__(self) -> str:
        return f"{self.playbook} v{self.number}"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT


class Step(models.Model):
    class SmsTrigger(models.TextChoices):
        ON_OPEN = "on_open", _("При открытии обращения")
        ON_DONE = "on_done", _("Когда шаг выполнен")

    version = models.ForeignKey(
        PlaybookVersion, on_delete=models.CASCADE, related_name="steps", verbose_name=_("версия")
    )
    position = models.PositiveSmallIntegerField(_("порядок"))
    title = models.CharField(_("шаг"), max_length=200)
    instruction = models.TextField(_("инструкция специалисту"), blank=True)
    script = models.TextField(_("что сказать абоненту"), blank=True)
    is_required = models.BooleanField(_("обязателен до закрытия"), default=True)
    sms_template = models.TextField(
        _("шаблон SMS-напоминания"),
        blank=True,
        help_text=_("Без ссылок. Можно использовать {number} — номер обращения."),
    )
    sms_delay_minutes = models.PositiveIntegerField(_("задержка SMS, мин"), null=True, blank=True)
    sms_trigger = models.CharField(
        _("когда планировать SMS"),
        max_length=16,
        choices=SmsTrigger.choices,
        default=SmsTrigger.ON_DONE,
    )

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "position"], name="step_position_unique"),
        ]
        verbose_name = _("шаг сценария")
        verbose_name_plural = _("шаги сценария")

    def __str__(self) -> str:
        return f"{self.position}. {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.assert_editable()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        self.assert_editable()
        return super().delete(*args, **kwargs)

    def assert_editable(self) -> None:
        # A published version is what open cases pinned: it must never change under them.
        if self.version_id and self.version.status != PlaybookVersion.Status.DRAFT:
            raise ValidationError(
                _("Опубликованную версию менять нельзя: создайте черновик новой версии.")
            )

    def clean(self) -> None:
        if self.sms_template:
            errors = sms_text_errors(self.sms_template)
            if errors:
                raise ValidationError({"sms_template": errors})
            if self.sms_delay_minutes is None:
                raise ValidationError({"sms_delay_minutes": _("Укажите задержку для SMS.")})
