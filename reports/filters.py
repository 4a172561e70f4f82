"""The report period and filters: one form for the page, the exports and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.forms import DateField
from cases.models import Channel
from playbooks.models import Category

MOSCOW = ZoneInfo("Europe/Moscow")
MAX_PERIOD_DAYS = 400


@dataclass(frozen=True)
class ReportFilter:
    """A half-open period [start, end) in Moscow days, plus optional channel and category."""

    date_from: date
    date_to: date  # inclusive
    channel: str = ""
    category_id: int | None = None

    @property
    def channel_label(self) -> str:
        """«Чат в приложении», not «chat», in the page's header."""
        return str(Channel(self.channel).label) if self.channel else ""

    @property
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time.min, tzinfo=MOSCOW)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.date_to + timedelta(days=1), time.min, tzinfo=MOSCOW)

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    def case_q(self, prefix: str = "") -> Q:
        """The filter on cases, or on rows reached through `prefix` (e.g. "case__")."""
        q = Q(**{f"{prefix}created_at__gte": self.start, f"{prefix}created_at__lt": self.end})
        if self.channel:
            q &= Q(**{f"{prefix}channel": self.channel})
        if self.category_id:
            q &= Q(**{f"{prefix}category_id": self.category_id})
        return q

    def filter_sql(self, alias: str = "") -> tuple[list[str], list[Any]]:
        """The channel and category filters as raw SQL conditions on a table that has those
        columns (cases, rollups), for the hand-written report queries."""
        col = f"{alias}." if alias else ""
        where: list[str] = []
        params: list[Any] = []
        if self.channel:
            where.append(f"{col}channel = %s")
            params.append(self.channel)
        if self.category_id:
            where.append(f"{col}category_id = %s")
            params.append(self.category_id)
        return where, params

    def case_sql(
        self, alias: str = "", start: datetime | None = None, end: datetime | None = None
    ) -> tuple[list[str], list[Any]]:
        """case_q() as raw SQL conditions on the cases table, over [start, end) when given,
        else the period."""
        col = f"{alias}." if alias else ""
        where, params = self.filter_sql(alias)
        return (
            [f"{col}created_at >= %s", f"{col}created_at < %s", *where],
            [start or self.start, end or self.end, *params],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "channel": self.channel,
            "category": self.category_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportFilter:
        return cls(
            date_from=date.fromisoformat(data["date_from"]),
            date_to=date.fromisoformat(data["date_to"]),
            channel=data.get("channel") or "",
            category_id=data.get("category") or None,
        )

    def querystring(self) -> str:
        from urllib.parse import urlencode

        params = {
            "period": "custom",
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
        }
        if self.channel:
            params["channel"] = self.channel
        if self.category_id:
            params["category"] = str(self.category_id)
        return urlencode(params)


def today_in_moscow() -> date:
    return timezone.now().astimezone(MOSCOW).date()


class ReportFilterForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")  # as the staff forms: «Период», not «Период:»
        super().__init__(*args, **kwargs)

    PERIODS = [
        ("day", _("День")),
        ("week", _("Неделя")),
        ("month", _("Месяц")),
        ("custom", _("Свой период")),
    ]
    period = forms.ChoiceField(label=_("Период"), choices=PERIODS, required=False)
    date = DateField(label=_("Дата"), required=False)
    date_from = DateField(label=_("С"), required=False)
    date_to = DateField(label=_("По"), required=False)
    channel = forms.ChoiceField(
        label=_("Канал"), choices=[("", _("Все каналы")), *Channel.choices], required=False
    )
    category = forms.ModelChoiceField(
        label=_("Категория"),
        queryset=Category.objects.all(),
        required=False,
        empty_label=_("Все категории"),
    )

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        period = data.get("period") or "month"
        data["period"] = period
        if period == "custom":
            d1, d2 = data.get("date_from"), data.get("date_to")
            if not d1 and "date_from" not in self.errors:
                self.add_error("date_from", _("Укажите начало периода."))
            if not d2 and "date_to" not in self.errors:
                self.add_error("date_to", _("Укажите конец периода."))
            if d1 and d2:
                if d2 < d1:
                    self.add_error("date_to", _("Конец периода раньше начала."))
                elif (d2 - d1).days + 1 > MAX_PERIOD_DAYS:
                    self.add_error(
                        "date_to",
                        _("Период не длиннее %(n)s дней.") % {"n": MAX_PERIOD_DAYS},
                    )
            return data
        anchor = data.get("date") or today_in_moscow()
        if period == "day":
            d1 = d2 = anchor
        elif period == "week":
            d1 = anchor - timedelta(days=anchor.weekday())
            d2 = d1 + timedelta(days=6)
        else:
            d1 = anchor.replace(day=1)
            d2 = (d1 + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        data["date"] = anchor
        data["date_from"], data["date_to"] = d1, d2
        return data

    def report_filter(self) -> ReportFilter:
        """Call after is_valid()."""
        data = self.cleaned_data
        category = data.get("category")
        return ReportFilter(
            date_from=data["date_from"],
            date_to=data["date_to"],
            channel=data.get("channel") or "",
            category_id=category.pk if category else None,
        )
