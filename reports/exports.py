"""Case exports: the columns a manager may choose, masking, and the CSV stream."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from cases.models import Case, Channel, Outcome, Status
from fraudcenter.logging import mask_phones
from playbooks.models import Priority

from .filters import MOSCOW, ReportFilter

CHUNK_SIZE = 2000
BOM = "\ufeff"


def mask_phone(msisdn: str | None) -> str:
    """+79161234567 → +7 916 ***-**-67: the operator code and the last two digits stay."""
    if not msisdn:
        return ""
    s = str(msisdn)
    if s.startswith("+7") and len(s) == 12:
        return f"+7 {s[2:5]} ***-**-{s[-2:]}"
    return f"{s[:4]} ***-**-{s[-2:]}" if len(s) > 6 else "***"


def mask_name(name: str | None) -> str:
    """Иван Петров → И*** П***."""
    return " ".join(f"{w[0]}***" for w in (name or "").split())


def _local(dt: datetime | None) -> datetime | None:
    return dt.astimezone(MOSCOW) if dt is not None else None


_CHANNELS = {k: str(v) for k, v in Channel.choices}
_STATUSES = {k: str(v) for k, v in Status.choices}
_OUTCOMES = {k: str(v) for k, v in Outcome.choices}
_PRIORITIES = {k: str(v) for k, v in Priority.choices}


def _yes_no(value: bool) -> str:
    return "да" if value else "нет"


# key: (label, values_list path, formatter, formatter when masked). The formatter returns a
# str, int, Decimal or an aware-free Moscow datetime (XLSX writes it as a date cell).
Column = tuple[Any, str, Callable[[Any], Any], Callable[[Any], Any] | None]
COLUMNS: dict[str, Column] = {
    "number": (_("Номер"), "number", str, None),
    "created_at": (_("Создано"), "created_at", _local, None),
    "channel": (_("Канал"), "channel", _CHANNELS.get, None),
    "category": (_("Категория"), "category__name", str, None),
    "status": (_("Статус"), "status", _STATUSES.get, None),
    "priority": (_("Приоритет"), "priority", _PRIORITIES.get, None),
    "phone": (_("Телефон абонента"), "subscriber__msisdn", str, mask_phone),
    "subscriber_name": (_("Имя абонента"), "subscriber__name", str, mask_name),
    "assignee": (_("Исполнитель"), "assignee__username", lambda v: v or "", None),
    "summary": (_("Кратко"), "summary", str, mask_phones),
    "code_disclosed": (_("Сообщил код"), "code_disclosed", _yes_no, None),
    "money_lost": (_("Потерял деньги"), "money_lost", _yes_no, None),
    "money_amount": (_("Сумма потерь, ₽"), "money_amount", lambda v: v, None),
    "outcome": (_("Итог"), "outcome", lambda v: _OUTCOMES.get(v, ""), None),
    "due_at": (_("Срок"), "due_at", _local, None),
    "first_action_at": (_("Первое действие"), "first_action_at", _local, None),
    "resolved_at": (_("Решено"), "resolved_at", _local, None),
}
DEFAULT_COLUMNS = [
    "number", "created_at", "channel", "category", "status", "phone", "assignee",
    "code_disclosed", "money_lost", "money_amount", "outcome", "resolved_at",
]  # fmt: skip
PERSONAL_COLUMNS = {"phone", "subscriber_name", "summary"}


def export_rows(
    f: ReportFilter, columns: list[str], *, masked: bool
) -> tuple[list[str], Iterator[list[Any]]]:
    """Headers and a constant-memory iterator of formatted rows (chunks of CHUNK_SIZE)."""
    cols = [COLUMNS[c] for c in columns]
    formatters = [(mask if masked and mask else fmt) for _label, _path, fmt, mask in cols]
    qs: QuerySet = (
        Case.objects.filter(f.case_q())
        .order_by("created_at", "id")
        .values_list(*[path for _label, path, _f, _m in cols])
    )

    def rows() -> Iterator[list[Any]]:
        for values in qs.iterator(chunk_size=CHUNK_SIZE):
            yield [fmt(v) for fmt, v in zip(formatters, values, strict=True)]

    return [str(label) for label, *_rest in cols], rows()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%d.%m.%Y %H:%M")
    if isinstance(value, Decimal):
        return str(value).replace(".", ",")  # Russian Excel reads a comma as the decimal mark
    return "" if value is None else value


def csv_stream(headers: list[str], rows: Iterator[list[Any]], on_done: Callable[[int], None]):
    """UTF-8 with BOM, ';'-separated, CHUNK_SIZE rows per yielded piece. on_done(row_count)
    runs when the stream ends, also when the client went away (with the rows sent so far)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    yield BOM + buffer.getvalue()
    count = 0
    try:
        while True:
            buffer.seek(0)
            buffer.truncate()
            batch = 0
            for row in rows:
                writer.writerow([_csv_cell(v) for v in row])
                batch += 1
                if batch == CHUNK_SIZE:
                    break
            count += batch
            if batch:
                yield buffer.getvalue()
            if batch < CHUNK_SIZE:
                break
    finally:
        on_done(count)


def table_csv(headers: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([[_csv_cell(v) for v in row] for row in rows])
    return buffer.getvalue()
