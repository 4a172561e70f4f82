"""Case exports: the columns a manager may choose, masking, and the CSV stream."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from django.db import connections
from django.db.models import Case as DbCase
from django.db.models import CharField, ExpressionWrapper, F, Func, QuerySet, Value, When
from django.db.models.functions import Coalesce, Concat, NullIf, Trim
from django.utils.translation import gettext_lazy as _

from cases.models import Case, Channel, Outcome, Status
from cases.personal_data import mask_name as mask_name
from cases.personal_data import mask_phone as mask_phone
from fraudcenter.csv_cells import neutralise
from fraudcenter.db_router import reports_db_alias
from fraudcenter.logging import mask_phones
from playbooks.models import Priority

from .filters import MOSCOW, ReportFilter

CHUNK_SIZE = 2000
BOM = "\ufeff"


def _local(dt: datetime | None) -> datetime | None:
    return dt.astimezone(MOSCOW) if dt is not None else None


_CHANNELS = {k: str(v) for k, v in Channel.choices}
_STATUSES = {k: str(v) for k, v in Status.choices}
_OUTCOMES = {k: str(v) for k, v in Outcome.choices}
_PRIORITIES = {k: str(v) for k, v in Priority.choices}


def _yes_no(value: bool) -> str:
    return "да" if value else "нет"


# The person, as the staff pages name them: «Мария Соколова», the login only without a name.
ASSIGNEE_NAME = Coalesce(
    NullIf(
        Trim(
            Concat(
                "assignee__first_name", Value(" "), "assignee__last_name", output_field=CharField()
            )
        ),
        Value(""),
    ),
    "assignee__username",
)

# key: (label, values_list path or expression, formatter, formatter when masked). The
# formatter returns a str, int, Decimal or an aware-free Moscow datetime (XLSX writes it as a
# date cell).
Column = tuple[Any, Any, Callable[[Any], Any], Callable[[Any], Any] | None]
COLUMNS: dict[str, Column] = {
    "number": (_("Номер"), "number", str, None),
    "created_at": (_("Создано"), "created_at", _local, None),
    "channel": (_("Канал"), "channel", _CHANNELS.get, None),
    "category": (_("Категория"), "category__name", str, None),
    "status": (_("Статус"), "status", _STATUSES.get, None),
    "priority": (_("Приоритет"), "priority", _PRIORITIES.get, None),
    "phone": (_("Телефон абонента"), "subscriber__msisdn", str, mask_phone),
    "subscriber_name": (_("Имя абонента"), "subscriber__name", str, mask_name),
    "assignee": (_("Исполнитель"), ASSIGNEE_NAME, lambda v: v or "", None),
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


DATETIME_COLUMNS = {"created_at", "due_at", "first_action_at", "resolved_at"}
_LABELS: dict[str, dict[Any, str]] = {
    "channel": _CHANNELS,
    "status": _STATUSES,
    "outcome": _OUTCOMES,
    "priority": _PRIORITIES,
}


def _raw_phone(path: str) -> ExpressionWrapper:
    """The stored E.164 text: PhoneNumberField's own conversion parses and validates every
    value (~150 µs a row), which alone would cap an export at a few thousand rows/s."""
    return ExpressionWrapper(F(path), output_field=CharField())


def export_rows(
    f: ReportFilter, columns: list[str], *, masked: bool
) -> tuple[list[str], Iterator[list[Any]]]:
    """Headers and a constant-memory iterator of rows formatted in Python (chunks of
    CHUNK_SIZE): datetimes in Moscow time, sums as Decimal — for XLSX cells, and for CSV
    where the database cannot format (SQLite)."""
    selects, formatters = [], []
    for key in columns:
        _label, path, fmt, mask = COLUMNS[key]
        selects.append(_raw_phone(path) if key == "phone" else path)
        formatters.append(mask if masked and mask else fmt)
    qs: QuerySet = (
        Case.objects.using(reports_db_alias())
        .filter(f.case_q())
        .order_by("created_at", "id")
        .values_list(*selects)
    )

    def rows() -> Iterator[list[Any]]:
        for values in qs.iterator(chunk_size=CHUNK_SIZE):
            yield [fmt(v) for fmt, v in zip(formatters, values, strict=True)]

    return [str(COLUMNS[key][0]) for key in columns], rows()


# --- CSV: on PostgreSQL every cell is formatted (and masked) by the database ------------------


class _Sql(Func):
    output_field = CharField()

    def __init__(self, expression: Any, template: str) -> None:
        super().__init__(expression, template=template)

    def as_sql(  # type: ignore[override]  # same parameters, passed on as they come
        self, compiler: Any, connection: Any, *args: Any, **extra: Any
    ) -> tuple[str, list[Any]]:
        # The template names its expression several times: its parameters (a Value inside,
        # e.g. the assignee's name) are needed once per mention.
        sql, params = super().as_sql(compiler, connection, *args, **extra)
        mentions = self.extra["template"].count("%(expressions)s")
        return sql, list(params) * mentions


def _labels(path: str, labels: dict[Any, str]) -> DbCase:
    return DbCase(
        *[When(**{path: value}, then=Value(label)) for value, label in labels.items()],
        default=None,  # NULL: COPY writes nothing, where '' would be written as ""
        output_field=CharField(),
    )


def _neutralised(expression: Any) -> _Sql:
    """neutralise() in SQL, for the cells PostgreSQL's COPY writes."""
    if isinstance(expression, str):
        expression = F(expression)
    return _Sql(
        expression,
        "CASE WHEN left(%(expressions)s, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
        "THEN '''' || %(expressions)s ELSE %(expressions)s END",
    )


def _sql_cell(key: str, path: Any, masked: bool) -> Any:
    """The column as its final CSV text: formatted, masked and neutralised in SQL."""
    cell = _sql_text(key, path, masked)
    return cell if key in _NOT_TEXT else _neutralised(cell)


# Cells whose text the export itself writes (dates, sums, yes/no, choice labels).
_NOT_TEXT = {*DATETIME_COLUMNS, "money_amount", "code_disclosed", "money_lost", *_LABELS}


def _sql_text(key: str, path: Any, masked: bool) -> Any:
    if key in DATETIME_COLUMNS:
        return _Sql(
            F(path), "to_char(%(expressions)s AT TIME ZONE 'Europe/Moscow', 'DD.MM.YYYY HH24:MI')"
        )
    if key == "money_amount":
        return _Sql(F(path), "replace(%(expressions)s::text, '.', ',')")
    if key in _LABELS:
        return _labels(path, _LABELS[key])
    if key in ("code_disclosed", "money_lost"):
        return DbCase(When(**{path: True}, then=Value("да")), default=Value("нет"))
    if key == "phone":
        if not masked:
            return _raw_phone(path)
        # Same as mask_phone(): +79161234567 → +7 916 ***-**-67.
        return _Sql(
            F(path),
            "CASE WHEN left(%(expressions)s, 2) = '+7' AND length(%(expressions)s) = 12 "
            "THEN '+7 ' || substr(%(expressions)s, 3, 3) "
            "|| ' ***-**-' || right(%(expressions)s, 2) "
            "ELSE left(%(expressions)s, 4) || ' ***-**-' || right(%(expressions)s, 2) END",
        )
    if key == "subscriber_name" and masked:
        # Same as mask_name() for single-spaced names: Иван Петров → И*** П***.
        return _Sql(
            F(path), r"NULLIF(regexp_replace(%(expressions)s, '(\S)\S*', '\1***', 'g'), '')"
        )
    if key == "summary" and masked:
        # Like fraudcenter.logging.mask_phones: a phone-like run of 10+ characters keeps only
        # its last two digits ("+7 495 123-45-67" → "***67"); errs towards masking more.
        return _Sql(
            F(path),
            r"regexp_replace(%(expressions)s, '\+?\d[\d\s()\-]{7,}(\d)[\s\-]?(\d)', "
            r"'***\1\2', 'g')",
        )
    return path


def csv_chunks(f: ReportFilter, columns: list[str], *, masked: bool) -> Iterator[bytes | int]:
    """The CSV body (no header) in pieces of about 256 KB; the last item is the row count.

    PostgreSQL: the database formats and masks every cell and writes the CSV itself
    (COPY (SELECT ...) TO STDOUT), streamed through psycopg: no per-row work in Python.
    Elsewhere: export_rows() formats in Python and the csv module writes. Both read
    through reports_db_alias(): the read replica when there is one."""
    connection = connections[reports_db_alias()]
    if connection.vendor != "postgresql":
        _h, rows = export_rows(f, columns, masked=masked)
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
        count = 0
        for row in rows:
            writer.writerow([_csv_cell(v) for v in row])
            count += 1
            if count % CHUNK_SIZE == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()
        yield count
        return

    selects = [_sql_cell(key, COLUMNS[key][1], masked) for key in columns]
    qs = Case.objects.filter(f.case_q()).order_by("created_at", "id").values_list(*selects)
    sql, params = qs.query.get_compiler(using=connection.alias).as_sql()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        # COPY takes no bind parameters: psycopg quotes them into the statement client-side.
        select = psycopg.ClientCursor(raw.connection).mogrify(sql, params)
        copy_sql = f"COPY ({select}) TO STDOUT WITH (FORMAT csv, DELIMITER ';', ENCODING 'UTF8')"
        pieces, size = [], 0
        with raw.copy(copy_sql) as copy:
            for data in copy:
                pieces.append(bytes(data))
                size += len(data)
                if size >= 256 * 1024:
                    yield b"".join(pieces)
                    pieces, size = [], 0
        yield b"".join(pieces)
        yield raw.rowcount


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%d.%m.%Y %H:%M")
    if isinstance(value, Decimal):
        return str(value).replace(".", ",")  # Russian Excel reads a comma as the decimal mark
    if isinstance(value, str):
        return neutralise(value)
    return "" if value is None else value


def csv_stream(
    f: ReportFilter, columns: list[str], *, masked: bool, on_done: Callable[[int, bool], None]
) -> Iterator[bytes]:
    """UTF-8 with BOM (so Excel detects the encoding), ';'-separated (Excel's separator in
    Russian locales), LF line ends (what PostgreSQL's COPY writes; Excel reads them).

    on_done(row_count, complete) runs when the stream ends, also when the client went away
    (then complete=False and the count unknown: 0)."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\n").writerow(
        [str(COLUMNS[key][0]) for key in columns]
    )
    yield (BOM + buffer.getvalue()).encode()
    count, complete = 0, False
    try:
        for piece in csv_chunks(f, columns, masked=masked):
            if isinstance(piece, int):
                count = piece
            elif piece:
                yield piece
        complete = True
    finally:
        on_done(count, complete)


def table_csv(headers: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(headers)
    writer.writerows([[_csv_cell(v) for v in row] for row in rows])
    return buffer.getvalue()
