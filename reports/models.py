from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportJob(models.Model):
    """One export: the record of who exported what (CSV and XLSX alike) and, for XLSX,
    the background job that builds the file. CSV rows are written when the stream ends."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    class State(models.TextChoices):
        PENDING = "pending", _("В очереди")
        RUNNING = "running", _("Выполняется")
        DONE = "done", _("Готово")
        FAILED = "failed", _("Ошибка")
        EXPIRED = "expired", _("Файл удалён")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="report_exports",
        verbose_name=_("кто"),
    )
    # "cases" for the case list; a report table's name ("by_category", ...) otherwise.
    kind = models.CharField(_("что"), max_length=32, default="cases")
    format = models.CharField(_("формат"), max_length=8, choices=Format.choices)
    filters = models.JSONField(_("фильтры"), default=dict)
    columns = models.JSONField(_("столбцы"), default=list, blank=True)
    masked = models.BooleanField(_("с маскированием"), default=True)
    state = models.CharField(
        _("состояние"), max_length=16, choices=State.choices, default=State.PENDING
    )
    progress = models.PositiveSmallIntegerField(_("готовность, %"), default=0)
    row_count = models.PositiveIntegerField(_("строк"), default=0)
    total_rows = models.PositiveIntegerField(_("строк всего"), null=True, blank=True)
    file_path = models.CharField(_("файл"), max_length=500, blank=True)
    error = models.TextField(_("ошибка"), blank=True)
    created_at = models.DateTimeField(_("создано"), default=timezone.now)
    finished_at = models.DateTimeField(_("завершено"), null=True, blank=True)
    expires_at = models.DateTimeField(_("хранится до"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("выгрузка")
        verbose_name_plural = _("выгрузки")
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="export_owner_idx"),
            # The cleanup task's query: finished files past their expiry.
            models.Index(
                fields=["expires_at"], name="export_expiry_idx", condition=Q(state="done")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} {self.kind} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED, self.State.EXPIRED)


class CaseDayRollup(models.Model):
    """The additive report figures per (Moscow day, channel, category, assignee).

    Rebuilt by `manage.py reports_rollup_rebuild` and kept current by the beat task
    `reports.rollup_refresh` (reports/rollup.py), which recomputes whole Moscow days whose
    cases changed since its watermark. The reports read these rows for days the watermark
    says are clean and count the other days' cases live, so figures equal the live ones."""

    day = models.DateField(_("день (Москва)"))
    channel = models.CharField(_("канал"), max_length=16)
    # Plain ids: a rollup row never blocks deleting a category or a user.
    category = models.ForeignKey(
        "playbooks.Category", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    total = models.IntegerField(default=0)
    code_disclosed = models.IntegerField(default=0)
    money_lost = models.IntegerField(default=0)
    money_amount = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    resolved = models.IntegerField(default=0)
    due_resolved = models.IntegerField(default=0)
    on_time = models.IntegerField(default=0)
    repeat = models.IntegerField(default=0)
    outcome_no_harm = models.IntegerField(default=0)
    outcome_code_disclosed = models.IntegerField(default=0)
    outcome_account_taken_over = models.IntegerField(default=0)
    outcome_money_lost = models.IntegerField(default=0)
    outcome_referred_bank = models.IntegerField(default=0)
    outcome_referred_gosuslugi = models.IntegerField(default=0)
    outcome_referred_police = models.IntegerField(default=0)
    outcome_duplicate = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("сводка за день")
        verbose_name_plural = _("сводки за день")
        indexes = [models.Index(fields=["day", "channel", "category"], name="rollup_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.category_id} {self.assignee_id}"


class CaseDurationRollup(models.Model):
    """The exact durations of a (Moscow day, assignee)'s cases, one row per metric, as a
    histogram: the distinct values in seconds (ascending, as percentile_cont sees them:
    EXTRACT(EPOCH ...) in float8) and how many cases have each. Merging the histograms of a
    period gives the exact multiset, so the medians and 90th percentiles are the same floats
    percentile_cont gives on the cases (reports/selectors.speeds_for).

    No channel or category: a day's cases spread over few distinct durations per assignee,
    while per (channel, category, assignee) nearly every value is distinct and the rollup
    would be as long as the cases. Reports filtered by channel or category compute the
    percentiles from their (fewer) cases. PostgreSQL only (arrays); written and read like
    CaseDayRollup (reports/rollup.py)."""

    class Metric(models.IntegerChoices):
        FIRST_ACTION = 1, _("до первого действия")
        RESOLVE = 2, _("до решения")

    day = models.DateField(_("день (Москва)"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    metric = models.PositiveSmallIntegerField(choices=Metric.choices)
    seconds = ArrayField(models.FloatField())
    counts = ArrayField(models.IntegerField())

    class Meta:
        verbose_name = _("длительности за день")
        verbose_name_plural = _("длительности за день")
        indexes = [models.Index(fields=["day"], name="rollup_duration_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.assignee_id} {self.metric}"


class IdentifierDayRollup(models.Model):
    """The links of a scammer identifier to the cases of a (Moscow day, channel, category):
    how many cases, and which subscribers (distinct ids). The distinct subscribers of a
    period are the union of its days' arrays — exact, without reading the cases or the link
    table. PostgreSQL only (arrays); written and read like CaseDayRollup."""

    day = models.DateField(_("день (Москва)"))
    channel = models.CharField(_("канал"), max_length=16)
    category = models.ForeignKey(
        "playbooks.Category", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    kind = models.CharField(_("тип"), max_length=16)
    identifier = models.ForeignKey(
        "cases.ScammerIdentifier",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    cases = models.IntegerField(default=0)
    subscribers = ArrayField(models.BigIntegerField())

    class Meta:
        verbose_name = _("номера мошенников за день")
        verbose_name_plural = _("номера мошенников за день")
        indexes = [
            models.Index(fields=["day", "channel", "category"], name="rollup_identifier_day_idx")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.category_id} {self.identifier_id}"


class RollupState(models.Model):
    """One row (pk=1): the rollup is exact for every day whose cases were all last changed
    before `watermark`. No row, or a rebuild under way: the reports count everything live."""

    watermark = models.DateTimeField()
    refreshed_at = models.DateTimeField(default=timezone.now)
    days_refreshed = models.PositiveIntegerField(default=0)
    # A rebuild is under way (since refreshed_at): the rollups are partly empty, so the
    # reports count every day live, as without a row.
    rebuilding = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("состояние сводки")

    def __str__(self) -> str:
        return f"{self.watermark:%Y-%m-%d %H:%M:%S}"
