"""Demo data: users for every role, the Russian playbooks, realistic cases.

`seed_demo` loads it once (idempotent). `seed_demo --cases N` adds N cases with their
subscribers, events and scammer identifiers in bulk (COPY on PostgreSQL) for benchmarks."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from playbooks.demo_data import CATEGORIES
from playbooks.models import Category, Playbook, PlaybookVersion, Step
from playbooks.services import playbook_publish

from .models import (
    OPEN_STATUSES,
    Case,
    CaseEvent,
    CaseIdentifier,
    Channel,
    Outcome,
    ScammerIdentifier,
    Status,
    StepOutcome,
    Subscriber,
)
from .roles import Role
from .services import (
    case_add_identifier,
    case_append_message,
    case_assign,
    case_open,
    case_record_step,
    case_set_status,
)

DEMO_PASSWORD = "demo-611-pass"
DEMO_USERS = [
    # username, first name, last name, role, is_superuser
    ("admin", "Админ", "Системный", None, True),
    ("supervisor", "Ольга", "Старшая", Role.SUPERVISOR, False),
    ("manager", "Игорь", "Руководитель", Role.MANAGER, False),
    ("specialist1", "Анна", "Смирнова", Role.SPECIALIST, False),
    ("specialist2", "Дмитрий", "Кузнецов", Role.SPECIALIST, False),
    ("specialist3", "Мария", "Волкова", Role.SPECIALIST, False),
    ("telephony", "Линия", "611", Role.INTEGRATION, False),
    ("chatbackend", "Чат", "приложения", Role.INTEGRATION, False),
]
FIRST_NAMES = ["Иван", "Елена", "Сергей", "Наталья", "Алексей", "Татьяна", "Николай", "Галина"]
LAST_NAMES = ["Петров(а)", "Соколов(а)", "Морозов(а)", "Васильев(а)", "Фёдоров(а)", "Орлов(а)"]
TIME_ZONES = [
    "Europe/Moscow", "Europe/Moscow", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg",
    "Asia/Novosibirsk", "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Vladivostok",
    "Europe/Kaliningrad",
]  # fmt: skip
SCAM_SENDERS = ["GOSUSLUGI-INFO", "BANK-SECURITY", "DOSTAVKA", "PRIZ", "CB-RF", "SBER-ONLINE"]


def seed_users() -> list[tuple[str, str]]:
    logins: list[tuple[str, str]] = []
    groups = {g.name: g for g in Group.objects.all()}
    for username, first, last, role, superuser in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "is_staff": superuser,
                "is_superuser": superuser,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        if role:
            user.groups.add(groups[role])
        if role != Role.INTEGRATION:
            logins.append((username, str(role or "admin")))
    return logins


@transaction.atomic
def seed_playbooks() -> int:
    """Categories and published playbooks; existing ones are left as they are."""
    created = 0
    for position, data in enumerate(CATEGORIES):
        category, _ = Category.objects.get_or_create(
            slug=data["slug"],
            defaults={
                "name": data["name"],
                "description": data["description"],
                "sla_minutes": data["sla_minutes"],
                "urgent_sla_minutes": data["urgent_sla_minutes"],
                "default_priority": data["default_priority"],
                "position": position,
            },
        )
        if Playbook.objects.filter(category=category).exists():
            continue
        playbook = Playbook.objects.create(
            category=category, slug=data["slug"], title=data["playbook_title"]
        )
        version = PlaybookVersion.objects.create(playbook=playbook, number=1, notes="Первая версия")
        for i, step in enumerate(data["steps"], start=1):
            Step.objects.create(
                version=version,
                position=i,
                title=step["title"],
                instruction=step["instruction"],
                script=step["script"],
                is_required=step["is_required"],
                sms_template=step["sms_template"],
                sms_delay_minutes=step["sms_delay_minutes"],
                sms_trigger=step["sms_trigger"],
            )
        playbook_publish(version=version)
        created += 1
    return created


def _random_msisdn(rng: random.Random) -> str:
    # 916/926/977/903 ranges: real-looking Moscow-area mobile numbers, never the bulk range.
    return f"+7{rng.choice(['916', '926', '977', '903', '999'])}{rng.randrange(10**7):07d}"


def seed_demo_cases(count: int = 60, *, rng: random.Random | None = None) -> int:
    """Realistic cases through the services, so their timelines look like real work."""
    rng = rng or random.Random(611)
    specialists = list(User.objects.filter(groups__name=Role.SPECIALIST))
    line = User.objects.get(username="telephony")
    chat = User.objects.get(username="chatbackend")
    supervisor = User.objects.get(username="supervisor")
    categories = {c.slug: c for c in Category.objects.select_related("playbook")}
    made = 0
    for i in range(count):
        data = rng.choice(CATEGORIES)
        category = categories[data["slug"]]
        code = data["default_priority"] >= 3 and rng.random() < 0.3
        source = rng.choice([line, chat])
        case = case_open(
            actor=source,
            channel=Channel.HOTLINE if source == line else Channel.CHAT,
            category=category,
            phone=_random_msisdn(rng),
            subscriber_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            time_zone=rng.choice(TIME_ZONES),
            summary=rng.choice(data["sample_summaries"]),
            description=rng.choice(data["sample_descriptions"]),
            code_disclosed=code,
            money_lost=code and rng.random() < 0.3,
            money_amount=Decimal(rng.randrange(1000, 90000))
            if code and rng.random() < 0.3
            else None,
            external_id=f"demo-{i}",
        )
        made += 1
        if source == chat:  # the conversation the chat bot had before a person took it
            now = timezone.now()
            for n, (author, text) in enumerate(
                [("bot", "Здравствуйте! Опишите, пожалуйста, что случилось."),
                 ("subscriber", case.description or case.summary),
                 ("bot", "Спасибо. Подключаю специалиста центра, подождите минуту.")]
            ):  # fmt: skip
                case_append_message(
                    case=case, external_id=f"demo-{i}-{n}", author=author, text=text,
                    sent_at=now + timedelta(seconds=n), actor=chat,
                )  # fmt: skip
        if i % 3 == 0:
            continue  # a third stay new, in the queue
        actor = rng.choice(specialists)
        case = case_assign(case=case, assignee=actor, actor=supervisor)
        case = case_set_status(case=case, status=Status.IN_PROGRESS, actor=actor)
        if rng.random() < 0.5:
            case_add_identifier(
                case=case, kind="phone", value=f"+7495{rng.randrange(10**7):07d}", actor=actor
            )
        if i % 3 == 1:
            continue
        for step in Step.objects.filter(version_id=case.playbook_version_id):
            case_record_step(case=case, step=step, result="done", actor=actor)
        case_set_status(
            case=case,
            status=Status.CLOSED,
            actor=actor,
            outcome=rng.choice([Outcome.NO_HARM, Outcome.REFERRED_BANK, Outcome.CODE_DISCLOSED]),
        )
    return made


# --- Bulk: millions of cases for benchmarks ---------------------------------------------------


def _copy(model: type[models.Model], fields: Sequence[str], rows: Iterable[tuple]) -> None:
    """Insert rows fast: COPY on PostgreSQL, bulk_create elsewhere."""
    if connection.vendor == "postgresql":
        table = model._meta.db_table
        # By field name or attname ("case" or "case_id"), as get_field() accepts them.
        column = {n: f.column for f in model._meta.concrete_fields for n in (f.name, f.attname)}
        columns = ", ".join(str(column[f]) for f in fields)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    else:
        objs = (model(**dict(zip(fields, row, strict=True))) for row in rows)
        model._default_manager.bulk_create(objs, batch_size=2000)


def _chunks(start: int, stop: int, size: int) -> Iterator[tuple[int, int]]:
    for lo in range(start, stop, size):
        yield lo, min(lo + size, stop)


def _next_id(model: type[models.Model]) -> int:
    return (model._default_manager.aggregate(m=Max("id"))["m"] or 0) + 1


def seed_bulk_cases(total: int, *, rng: random.Random | None = None, log=print) -> None:
    """About two subscribers' worth of cases each (repeat victims included), over two years."""
    rng = rng or random.Random(1_000_000)
    now = timezone.now()
    categories = list(Category.objects.select_related("playbook"))
    specialists = list(
        User.objects.filter(groups__name=Role.SPECIALIST).values_list("id", flat=True)
    )
    sources = list(User.objects.filter(groups__name=Role.INTEGRATION).values_list("id", flat=True))
    tzs = TIME_ZONES
    n_subs = max(1, total // 2)
    sub_start = _next_id(Subscriber)
    case_start = _next_id(Case)
    event_start = _next_id(CaseEvent)
    two_years = 2 * 365 * 24 * 3600

    log(f"subscribers: {n_subs}")
    for lo, hi in _chunks(0, n_subs, 50_000):
        _copy(
            Subscriber,
            ["id", "msisdn", "name", "time_zone", "sms_opt_out", "created_at"],
            (
                (sub_start + i, f"+7958{sub_start + i:07d}", "", tzs[i % len(tzs)],
                 i % 50 == 0, now - timedelta(seconds=two_years))
                for i in range(lo, hi)
            ),
        )  # fmt: skip

    n_idents = max(10, total // 50)
    ident_start = _next_id(ScammerIdentifier)
    _copy(
        ScammerIdentifier,
        ["id", "kind", "value", "first_seen_at"],
        (
            (ident_start + i, "phone" if i % 5 else "sender",
             f"+7495{ident_start + i:07d}" if i % 5
             else f"{rng.choice(SCAM_SENDERS)}-{ident_start + i}", now)
            for i in range(n_idents)
        ),
    )  # fmt: skip

    statuses_open = list(OPEN_STATUSES)
    outcomes = [o for o in Outcome.values if o != Outcome.DUPLICATE]
    event_id = event_start
    log(f"cases: {total}")
    for lo, hi in _chunks(0, total, 50_000):
        cases: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        links: list[tuple[Any, ...]] = []
        for i in range(lo, hi):
            cid = case_start + i
            # Skewed towards recent dates, like a growing service.
            age = int(two_years * (rng.random() ** 2))
            created = now - timedelta(seconds=age)
            cat = categories[i % len(categories)]
            code = i % 7 == 0
            recent = age < 3 * 24 * 3600
            status = rng.choice(statuses_open) if recent else Status.CLOSED
            closed = status == Status.CLOSED
            resolved_at = created + timedelta(minutes=rng.randrange(5, 2 * cat.sla_minutes))
            # Some subscribers come back: the square skews towards low ids (repeat victims).
            sub_id = sub_start + int(n_subs * rng.random() ** 1.5)
            assignee = rng.choice(specialists) if specialists and (closed or i % 3) else None
            cases.append((
                cid, f"{created.year % 100:02d}-{cid:06d}", CHANNEL_MIX[i % 20],
                cat.pk, cat.playbook.current_version_id if hasattr(cat, "playbook") else None,
                status, 4 if code else cat.default_priority, sub_id, assignee,
                rng.choice(sources) if sources else None, f"Обращение по категории «{cat.name}»",
                "", code, False, i % 11 == 0, code and i % 3 == 0,
                Decimal(1000 + i % 50000) if code and i % 3 == 0 else None,
                rng.choice(outcomes) if closed else "", f"bulk-{cid}",
                created + timedelta(minutes=cat.urgent_sla_minutes if code else cat.sla_minutes),
                created + timedelta(minutes=rng.randrange(1, 30)) if assignee else None,
                created, resolved_at if closed else created,
                resolved_at if closed else None, resolved_at if closed else None, 1,
            ))  # fmt: skip
            events.append((event_id, cid, CaseEvent.Kind.CREATED, None, "", "{}", created))
            event_id += 1
            if closed:
                events.append(
                    (event_id, cid, CaseEvent.Kind.STATUS, assignee, "",
                     '{"old": "in_progress", "new": "closed"}', resolved_at)
                )  # fmt: skip
                event_id += 1
            if i % 3 == 0:
                links.append((cid, ident_start + int(n_idents * rng.random() ** 3), created))
        _copy(Case, CASE_FIELDS, cases)
        _copy(
            CaseEvent, ["id", "case_id", "kind", "actor_id", "text", "data", "created_at"], events
        )
        _copy(CaseIdentifier, ["case_id", "identifier_id", "created_at"], links)
        log(f"  {hi:,} / {total:,}")

    # Explicit ids were inserted: move the sequences past them.
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(
            no_style(), [Subscriber, Case, CaseEvent, ScammerIdentifier, StepOutcome]
        ):
            cursor.execute(sql)
        if connection.vendor == "postgresql":
            # VACUUM also sets the visibility map that the reports' index-only scans need
            # (autovacuum would, later; without it the 30-day report read the heap: 2-3×
            # slower). It cannot run inside a transaction, such as a test's.
            cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)")


# About two thirds of contacts are calls to 611, most of the rest chats.
CHANNEL_MIX = [Channel.HOTLINE] * 13 + [Channel.CHAT] * 6 + [Channel.OTHER]
CASE_FIELDS = [
    "id", "number", "channel", "category_id", "playbook_version_id", "status", "priority",
    "subscriber_id", "assignee_id", "created_by_id", "summary", "description",
    "code_disclosed", "password_disclosed", "personal_data_disclosed", "money_lost",
    "money_amount", "outcome", "external_id", "due_at", "first_action_at", "created_at",
    "updated_at", "resolved_at", "closed_at", "version",
]  # fmt: skip


def demo_already_loaded() -> bool:
    return Case.objects.filter(external_id__startswith="demo-").exists()
