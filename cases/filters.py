"""Filters for GET /api/v1/cases/. A bad value is a 400 with the field's message, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

from .models import Case, CaseQuerySet, Channel, Status
from .phones import normalize_msisdn


class PhoneFormField(forms.CharField):
    def clean(self, value: str | None) -> str | None:
        value = super().clean(value)
        return normalize_msisdn(value) if value else None


class AssigneeFormField(forms.CharField):
    """A user id, `me`, or `none` (unassigned)."""

    def clean(self, value: str | None) -> str | int | None:
        value = super().clean(value)
        if not value:
            return None
        if value in ("me", "none"):
            return value
        if not (value.isascii() and value.isdigit()) or len(value) > 18:  # "³" is a digit too
            raise ValidationError(_("Укажите id сотрудника, «me» или «none»."), code="invalid")
        return int(value)


class UtcDateTimeFormField(IsoDateTimeField):
    """ISO 8601, converted to UTC: PostgreSQL refuses offsets beyond ±15:59 that Python
    accepts (+17:18 would be a 500), and an offset pushing year 1 out of range is a 400."""

    def clean(self, value: str | None) -> datetime | None:
        parsed: datetime | None = super().clean(value)
        if parsed is None:
            return None
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        try:
            return parsed.astimezone(UTC)
        except OverflowError as exc:
            raise ValidationError(_("Дата вне допустимого диапазона."), code="invalid") from exc


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeFormField


class PhoneFilter(filters.CharFilter):
    field_class = PhoneFormField


class AssigneeFilter(filters.CharFilter):
    field_class = AssigneeFormField


class CaseFilter(filters.FilterSet):
    # distinct=False: no join multiplies rows here, and DISTINCT would defeat the index order.
    status = filters.MultipleChoiceFilter(choices=Status.choices, distinct=False)
    category = filters.CharFilter(field_name="category__slug", max_length=64)
    channel = filters.ChoiceFilter(choices=Channel.choices)
    assignee = AssigneeFilter(method="filter_assignee", max_length=20)
    phone = PhoneFilter(field_name="subscriber__msisdn", max_length=32)
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = filters.CharFilter(method="filter_text", max_length=200, label=_("Поиск по тексту"))

    class Meta:
        model = Case
        fields: list[str] = []

    def filter_assignee(self, queryset: QuerySet[Case], name: str, value) -> QuerySet[Case]:
        if value == "me":
            return queryset.filter(assignee=self.request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee_id=value)

    def filter_text(self, queryset: CaseQuerySet, name: str, value: str) -> CaseQuerySet:
        return queryset.search(value)
