"""Report tables as header + rows, for the CSV export of each table on the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext_lazy as _

from cases.models import Channel, ScammerIdentifier

from . import selectors
from .filters import ReportFilter


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.1f}"


def _by_day(f: ReportFilter) -> tuple[list[str], list[list[Any]]]:
    rows = selectors.contacts_by_day(f)
    headers = [str(_("Дата")), *[str(label) for label in Channel.labels], str(_("Всего"))]
    return headers, [
        [r["day"].strftime("%d.%m.%Y"), *[r[c] for c in Channel.values], r["total"]] for r in rows
    ]


def _by_category(f: ReportFilter) -> tuple[list[str], list[list[Any]]]:
    rows = selectors.contacts_by_category(f)
    return [str(_("Категория")), str(_("Обращений"))], [[r["name"], r["n"]] for r in rows]


def _identifiers(kind: str) -> Callable[[ReportFilter], tuple[list[str], list[list[Any]]]]:
    def table(f: ReportFilter) -> tuple[list[str], list[list[Any]]]:
        rows = selectors.top_identifiers(f, kind=kind, limit=100)
        headers = [str(_("Идентификатор")), str(_("Абонентов")), str(_("Обращений"))]
        return headers, [[r["value"], r["subscribers"], r["cases"]] for r in rows]

    return table


def _steps(f: ReportFilter) -> tuple[list[str], list[list[Any]]]:
    rows = selectors.step_completion(f)
    headers = [
        str(h)
        for h in (
            _("Категория"), _("Шаг"), _("Название"), _("Всего"), _("Выполнено"),
            _("Неприменимо"), _("Отказ абонента"), _("Эскалировано"),
        )
    ]  # fmt: skip
    return headers, [
        [r["category"], r["step__position"], r["title"], r["total"], r["done"],
         r["not_applicable"], r["refused"], r["escalated"]]
        for r in rows
    ]  # fmt: skip


def _specialists(f: ReportFilter) -> tuple[list[str], list[list[Any]]]:
    rows = selectors.specialists(f)
    headers = [
        str(h) for h in (_("Сотрудник"), _("Обращений"), _("Решено"), _("Медиана до решения, мин"))
    ]
    return headers, [[r["name"], r["handled"], r["resolved"], _minutes(r["median"])] for r in rows]


TABLES: dict[str, tuple[Any, Callable[[ReportFilter], tuple[list[str], list[list[Any]]]]]] = {
    "by_day": (_("Обращения по дням и каналам"), _by_day),
    "by_category": (_("Обращения по категориям"), _by_category),
    "top_phones": (_("Номера мошенников"), _identifiers(ScammerIdentifier.Kind.PHONE)),
    "top_senders": (_("Имена отправителей"), _identifiers(ScammerIdentifier.Kind.SENDER)),
    "steps": (_("Выполнение шагов сценариев"), _steps),
    "specialists": (_("Сотрудники"), _specialists),
}
