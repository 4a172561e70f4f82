"""Writes on cases. Each service owns its transaction and writes the timeline event;
every entry point (staff pages, API, admin, commands) goes through these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from auditlog.context import disable_auditlog
from auditlog.registry import auditlog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _

from deliveries import push
from deliveries.services import (
    DeliveryConflict,
    delivery_enqueue,
    delivery_resend,
    target_enabled,
)
from fraudcenter.ops import CASES_OPENED
from playbooks.models import Category, Priority, Step
from playbooks.selectors import version_steps
from reminders.models import Reminder
from reminders.services import (
    reminder_cancel,
    reminder_find_manual,
    reminder_schedule_for_step,
    reminder_schedule_manual,
    reminders_cancel_pending_for_case,
    reminders_schedule_on_open,
)

from .access import may_assign, may_set_absence, may_take, require_supervisor
from .identifiers import Normalized, normalize
from .masking import Finding, describe, find_identifiers, mask_secrets
from .models import (
    OUTCOMES_CANCELLING_SMS,
    OUTCOMES_WITHOUT_STEPS,
    Absence,
    Case,
    CaseEvent,
    CaseIdentifier,
    Channel,
    ChatMessage,
    ChatState,
    IdentifierKind,
    IdentifierSuggestion,
    Outcome,
    ScammerIdentifier,
    StaffProfile,
    Status,
    StepOutcome,
)
from .phones import default_time_zone as default_time_zone
from .phones import normalize_msisdn as normalize_msisdn
from .roles import Role, has_role, kept_time_zone
from .selectors import current_absence
from .subscribers import subscriber_card_accessed as subscriber_card_accessed
from .subscribers import subscriber_get_or_create
from .subscribers import subscriber_set_opt_out as subscriber_set_opt_out


class CaseConflict(Exception):
    """The case changed since the caller read it (optimistic locking)."""

    def __init__(self, current_version: int) -> None:
        super().__init__(_("Обращение уже изменил другой сотрудник. Обновите страницу."))
        self.current_version = current_version


# --- Cases ------------------------------------------------------------------------------------


def _event(case: Case, kind: str, actor: User | None, text: str = "", **data: Any) -> CaseEvent:
    return CaseEvent.objects.create(case=case, kind=kind, actor=actor, text=text, data=data)


def compute_due_at(*, category: Category, created_at: datetime, urgent: bool) -> datetime:
    minutes = category.sla_minutes
    if urgent:
        minutes = min(minutes, category.urgent_sla_minutes)
    return created_at + timedelta(minutes=minutes)


@dataclass(frozen=True)
class OpenedCase:
    """A new case and its pinned playbook version's steps (read once, while opening)."""

    case: Case
    steps: list[Step]


def case_open(**kwargs: Any) -> Case:
    """case_open_with_steps() for callers that only need the case."""
    return case_open_with_steps(**kwargs).case


@transaction.atomic
def case_open_with_steps(
    *,
    actor: User | None,
    channel: str,
    category: Category,
    phone: str,
    summary: str,
    description: str = "",
    subscriber_name: str = "",
    time_zone: str | None = None,
    code_disclosed: bool = False,
    password_disclosed: bool = False,
    personal_data_disclosed: bool = False,
    money_lost: bool = False,
    money_amount: Decimal | None = None,
    external_id: str = "",
    priority: int | None = None,
    assignee: User | None = None,
) -> OpenedCase:
    """Open a case: subscriber found or created, playbook version pinned, deadline set.

    Triage: a disclosed code or password makes the case urgent with the short deadline,
    because the scammer may be signing in with it while the subscriber is on the line."""
    if money_amount is not None and money_amount < 0:
        raise ValidationError({"money_amount": _("Сумма не может быть отрицательной.")})
    if money_amount and not money_lost:
        money_lost = True
    summary, found_in_summary = scrub(summary)
    description, found_in_description = scrub(description)
    subscriber, _created = subscriber_get_or_create(
        phone=phone, name=subscriber_name, time_zone=time_zone
    )
    urgent = code_disclosed or password_disclosed
    now = timezone.now()
    playbook = getattr(category, "playbook", None)
    case = Case(
        channel=channel,
        category=category,
        playbook_version_id=playbook.current_version_id if playbook else None,
        subscriber=subscriber,
        summary=summary,
        description=description,
        code_disclosed=code_disclosed,
        password_disclosed=password_disclosed,
        personal_data_disclosed=personal_data_disclosed,
        money_lost=money_lost,
        money_amount=money_amount,
        external_id=external_id,
        priority=priority or (Priority.URGENT if urgent else category.default_priority),
        due_at=compute_due_at(category=category, created_at=now, urgent=urgent),
        created_at=now,
        created_by=actor if actor and actor.is_authenticated else None,
        assignee=assignee,
    )
    # Related rows were just fetched or made; checking each FK again costs a query apiece.
    # The unique external_id is left to its index: the caller turns the IntegrityError into
    # "this call was already logged" (cases.api.CaseListOpenApi._open).
    case.full_clean(
        exclude=["number", "subscriber", "category", "playbook_version", "created_by", "assignee"],
        validate_constraints=False,
    )
    case.pk = _case_id_in_advance()
    if case.pk is not None:
        case.number = _case_number(now, case.pk)
        case.save(force_insert=True)
    else:
        case.save()
        case.number = _case_number(now, case.pk)
        Case.objects.filter(pk=case.pk).update(number=case.number)
    _event(case, CaseEvent.Kind.CREATED, actor, channel=channel, urgent=urgent)
    _offer(case, found_in_summary + found_in_description, [summary, description], actor, "case")
    # The pinned version's steps, read once: its on_open SMS are scheduled in this transaction
    # (+2 bulk inserts if any) and the caller shows the steps without another query.
    version_id = case.playbook_version_id
    steps = version_steps(version_id) if version_id else []
    reminders_schedule_on_open(case=case, actor=actor, steps=steps)
    transaction.on_commit(lambda: CASES_OPENED.labels(channel).inc())
    return OpenedCase(case=case, steps=steps)


def _case_number(now: datetime, pk: int) -> str:
    return f"{now.year % 100:02d}-{pk:06d}"


def _case_id_in_advance() -> int | None:
    """PostgreSQL: the new case's id from its identity sequence, so that its INSERT carries
    the number. An UPDATE after the INSERT would add a second version of the row to each of
    the table's twenty indexes, the Russian full-text one included (the number is indexed:
    no HOT update). SQLite (embedded): None, the INSERT and then the UPDATE."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [Case._meta.db_table])
        return int(cursor.fetchone()[0])


def _lock(case: Case, expected_version: int | None) -> Case:
    """The case's row, locked for this transaction; a stale expected version is refused."""
    locked = Case.objects.select_for_update().get(pk=case.pk)
    _check_version(locked, expected_version)
    return locked


def _check_version(locked: Case, expected_version: int | None) -> None:
    # None: the caller did not say which version it saw (an integration without If-Match).
    if expected_version is not None and locked.version != expected_version:
        raise CaseConflict(locked.version)


def _save(case: Case, fields: list[str], actor: User | None) -> None:
    """Every write on a case moves its version on, so that the next stale write is refused."""
    case.version += 1
    if case.first_action_at is None and actor is not None and actor.is_authenticated:
        case.first_action_at = timezone.now()
        fields.append("first_action_at")
    if set(fields) <= _unaudited_case_fields():
        # auditlog diffs a save against a fresh read of the row; a save of only the fields
        # it does not audit (a step, a note, a reply: the version) can log nothing.
        with disable_auditlog():
            case.save(update_fields=[*fields, "version", "updated_at"])
        return
    case.save(update_fields=[*fields, "version", "updated_at"])


@cache
def _unaudited_case_fields() -> frozenset[str]:
    # The registration's own list (cases/apps.py), read once it is filled.
    return frozenset(auditlog.get_model_fields(Case)["exclude_fields"])


def _require_open(case: Case, message: str) -> None:
    if not case.is_open:
        raise ValidationError(message, code="case_closed")


def open_required_steps(case: Case) -> list[Step]:
    if not case.playbook_version_id:
        return []
    done = set(StepOutcome.objects.filter(case=case).values_list("step_id", flat=True))
    return [
        s for s in version_steps(case.playbook_version_id) if s.is_required and s.pk not in done
    ]


@transaction.atomic
def case_set_status(
    *,
    case: Case,
    status: str,
    actor: User | None,
    outcome: str = "",
    expected_version: int | None = None,
    comment: str = "",
) -> Case:
    case = _lock(case, expected_version)
    if status == case.status:
        return case
    if status not in case.allowed_next_statuses():
        raise ValidationError(
            {
                "status": _("Нельзя перевести обращение из «%(a)s» в «%(b)s».")
                % {"a": case.get_status_display(), "b": Status(status).label}
            }
        )
    if case.anonymised_at is not None:
        # Its texts are gone and the retention job never looks at it again (cases/retention.py).
        raise ValidationError({"status": _("Обращение обезличено: его нельзя открыть снова.")})
    fields = ["status"]
    old = case.status
    if status in (Status.RESOLVED, Status.CLOSED):
        outcome = outcome or case.outcome
        if not outcome:
            raise ValidationError({"outcome": _("Укажите итог обращения.")})
        if outcome not in Outcome.values:
            raise ValidationError({"outcome": _("Неизвестный итог обращения.")})
        if outcome not in OUTCOMES_WITHOUT_STEPS:
            missing = open_required_steps(case)
            if missing:
                raise ValidationError(
                    {
                        "status": _("Не выполнены обязательные шаги: %(steps)s.")
                        % {"steps": ", ".join(s.title for s in missing)}
                    }
                )
        case.outcome = outcome
        fields.append("outcome")
        now = timezone.now()
        if case.resolved_at is None:
            case.resolved_at = now
            fields.append("resolved_at")
        if status == Status.CLOSED:
            case.closed_at = now
            fields.append("closed_at")
    elif old in (Status.RESOLVED, Status.CLOSED):
        # Reopen: the case is live again; its earlier outcome no longer holds.
        case.outcome, case.resolved_at, case.closed_at = "", None, None
        fields += ["outcome", "resolved_at", "closed_at"]
    case.status = status
    _save(case, fields, actor)
    _event(case, CaseEvent.Kind.STATUS, actor, comment, old=old, new=status, outcome=case.outcome)
    if status in (Status.RESOLVED, Status.CLOSED) and case.outcome in OUTCOMES_CANCELLING_SMS:
        # No harm or a duplicate: the follow-up advice is not needed; what is pending goes.
        reminders_cancel_pending_for_case(case=case, actor=actor, reason=f"outcome:{case.outcome}")
    return case


UPDATABLE_FIELDS = ("priority", "category", "summary", "description", "outcome")


@transaction.atomic
def case_update(
    *, case: Case, actor: User | None, expected_version: int | None = None, **changes: Any
) -> Case:
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ValueError(f"not updatable here: {sorted(unknown)}")
    findings: list[Finding] = []
    for field in ("summary", "description"):
        if field in changes:
            changes[field], found = scrub(changes[field] or "")
            findings += found
    case = _lock(case, expected_version)
    diff = {}
    for field, value in changes.items():
        old = getattr(case, field)
        if old != value:
            setattr(case, field, value)
            diff[field] = [str(getattr(old, "pk", old)), str(getattr(value, "pk", value))]
    if not diff:
        return case
    case.full_clean(exclude=["number", "subscriber", "playbook_version"])
    _save(case, list(diff), actor)
    _event(case, CaseEvent.Kind.UPDATED, actor, changes=diff)
    texts = [changes[f] for f in ("summary", "description") if f in diff]
    _offer(case, findings, texts, actor, "case")
    return case


@transaction.atomic
def case_assign(
    *, case: Case, assignee: User | None, actor: User, expected_version: int | None = None
) -> Case:
    """Supervisors assign anyone; a specialist may only take an unassigned case for themself."""
    case = _lock(case, expected_version)
    taking = assignee is not None and assignee.pk == actor.pk
    if not (may_assign(actor) or (taking and may_take(actor, case))):
        raise PermissionDenied(_("Назначать обращения может только старший смены."))
    if assignee is not None and not has_role(assignee, Role.SPECIALIST, Role.SUPERVISOR):
        raise ValidationError({"assignee": _("Назначить можно только специалиста.")})
    if case.assignee_id == (assignee.pk if assignee else None):
        return case
    old = case.assignee_id
    case.assignee = assignee
    _save(case, ["assignee"], actor)
    _event(case, CaseEvent.Kind.ASSIGNED, actor, old=old, new=assignee.pk if assignee else None)
    return case


NOTE_MAX_LENGTH = 5000
STEP_NOTE_MAX_LENGTH = 2000


def _check_length(field: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise ValidationError(
            {
                field: _("Слишком длинный текст: %(n)d символов, можно не больше %(max)d.")
                % {"n": len(text), "max": limit}
            }
        )


@dataclass(frozen=True)
class BulkAssignment:
    assigned: list[Case]
    conflicts: list[Case]  # changed by someone since the list was shown: left alone


def cases_assign(
    *, cases: list[Case], assignee: User | None, actor: User, versions: dict[int, int | None]
) -> BulkAssignment:
    """Assign (or reassign, or return to the queue) several cases, each with the version the
    supervisor's list showed; a case changed since is reported, not overwritten."""
    assigned, conflicts = [], []
    for case in sorted(cases, key=lambda c: c.pk):  # pk order: two supervisors never deadlock
        try:
            assigned.append(
                case_assign(
                    case=case,
                    assignee=assignee,
                    actor=actor,
                    expected_version=versions.get(case.pk),
                )
            )
        except CaseConflict:
            conflicts.append(case)
    return BulkAssignment(assigned=assigned, conflicts=conflicts)


@transaction.atomic
def case_add_note(
    *, case: Case, actor: User, text: str, expected_version: int | None = None
) -> CaseEvent:
    """A note in the timeline; closed cases take notes too (the subscriber called back)."""
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Заметка пуста.")})
    _check_length("text", text, NOTE_MAX_LENGTH)
    text, findings = scrub(text)
    case = _lock(case, expected_version)
    _save(case, [], actor)
    note = _event(case, CaseEvent.Kind.NOTE, actor, text)
    _offer(case, findings, [text], actor, "note")
    return note


@transaction.atomic
def case_record_step(
    *,
    case: Case,
    step: Step,
    result: str,
    actor: User,
    note: str = "",
    expected_version: int | None = None,
) -> StepOutcome:
    """Record (or correct) a step's outcome; the step must belong to the case's pinned version
    and the case must be open (a closed case's playbook is history; reopen it to change it)."""
    case = _lock(case, expected_version)
    if step.version_id != case.playbook_version_id:
        raise ValidationError({"step": _("Этот шаг не из сценария обращения.")})
    _require_open(case, _("Обращение закрыто: чтобы менять шаги, верните его в работу."))
    if result not in StepOutcome.Result.values:
        raise ValidationError({"result": _("Неизвестный результат шага.")})
    _check_length("note", note, STEP_NOTE_MAX_LENGTH)
    note, findings = scrub(note)
    # The case's row is locked: no one else can write this outcome meanwhile, so no
    # update_or_create (its two savepoints and row lock are four statements more).
    outcome = StepOutcome.objects.filter(case=case, step=step).first() or StepOutcome(
        case=case, step=step
    )
    # outcome.case: the locked row with its new version, for the answer drawn from it.
    outcome.case, outcome.result, outcome.note, outcome.actor = case, result, note, actor
    outcome.recorded_at = timezone.now()
    outcome.save()
    _save(case, [], actor)
    _event(case, CaseEvent.Kind.STEP, actor, note, step=step.pk, title=step.title, result=result)
    _offer(case, findings, [note], actor, "step")
    if result == StepOutcome.Result.DONE and step.sms_trigger == Step.SmsTrigger.ON_DONE:
        reminder_schedule_for_step(case=case, step=step, actor=actor)
    return outcome


@transaction.atomic
def case_add_identifier(
    *, case: Case, kind: str, value: str, actor: User, expected_version: int | None = None
) -> ScammerIdentifier:
    """Link a scammer identifier to the case, normalised (cases.identifiers) so that the same
    thing written differently is one identifier. Linking one that is already there changes
    nothing and is not refused for a stale version (a retried request)."""
    return _link_identifier(case, normalize(kind, value), actor, expected_version)


def _link_identifier(
    case: Case, found: Normalized, actor: User, expected_version: int | None
) -> ScammerIdentifier:
    case = _lock(case, None)
    identifier, _created = ScammerIdentifier.objects.get_or_create(
        kind=found.kind, value=found.value, defaults={"display": found.display}
    )
    if CaseIdentifier.objects.filter(case=case, identifier=identifier).exists():
        return identifier
    _check_version(case, expected_version)
    # With the case object: intel's counting (a signal) reads its subscriber without a query.
    CaseIdentifier.objects.create(case=case, identifier=identifier, raw=found.raw, added_by=actor)
    IdentifierSuggestion.objects.filter(case=case, kind=found.kind, value=found.value).update(
        resolved=True
    )
    _save(case, [], actor)
    _event(
        case, CaseEvent.Kind.IDENTIFIER, actor, identifier_kind=found.kind, value=found.value,
        display=found.display,
    )  # fmt: skip
    return identifier


@transaction.atomic
def case_resolve_suggestion(
    *, case: Case, suggestion: IdentifierSuggestion, accept: bool, actor: User,
    expected_version: int | None = None,
) -> ScammerIdentifier | None:  # fmt: skip
    """One click on an identifier found in the case's texts: add it, or dismiss it."""
    if suggestion.case_id != case.pk:
        raise ValidationError(_("Это предложение другого обращения."))
    if not accept:
        _check_version(_lock(case, None), expected_version)
        IdentifierSuggestion.objects.filter(pk=suggestion.pk).update(resolved=True)
        return None
    found = Normalized(
        kind=suggestion.kind, value=suggestion.value, display=suggestion.display,
        raw=suggestion.raw or suggestion.display,
    )  # fmt: skip
    return _link_identifier(case, found, actor, expected_version)


# --- Secrets never stored; identifiers found in texts -----------------------------------------


def scrub(text: str) -> tuple[str, list[Finding]]:
    """The text with one-time codes, card numbers, CVV and passwords masked (cases.masking)."""
    return mask_secrets(text) if text else (text, [])


def _offer(
    case: Case, findings: list[Finding], texts: list[str], actor: User | None, source: str
) -> None:
    """What the texts reveal, after they were saved masked: identifiers found in them offered
    to the specialist (the subscriber's own number is not), and what was masked said in the
    timeline. No query when there is nothing to offer or say."""
    found = [f.identifier for f in findings if f.identifier is not None]
    for text in texts:
        found.extend(find_identifiers(text) if text else [])
    if found:
        own = str(case.subscriber.msisdn)
        IdentifierSuggestion.objects.bulk_create(
            [
                IdentifierSuggestion(
                    case=case, kind=n.kind, value=n.value, display=n.display, raw=n.raw
                )  # fmt: skip
                for n in found
                if not (n.kind == IdentifierKind.PHONE and n.value == own)
            ],
            ignore_conflicts=True,
        )
    if findings:
        _event(case, CaseEvent.Kind.MASKED, actor, describe(findings), source=source)


@transaction.atomic
def case_append_message(
    *, case: Case, external_id: str, author: str, text: str, sent_at: datetime, actor: User
) -> tuple[ChatMessage, bool]:
    """Append a chat line from the chat backend; the same external_id twice is the same line
    (retries are safe). A subscriber's line after their chat was reported closed means they
    are back: the chat is open again.

    Not a change of the case by a person: the version stays, so a specialist's form on the
    page is not refused because the subscriber wrote meanwhile."""
    existing = ChatMessage.objects.filter(case=case, external_id=external_id).first()
    if existing:
        return existing, False
    text, findings = scrub(text)
    case = _lock(case, None)
    message, created = ChatMessage.objects.get_or_create(
        case=case,
        external_id=external_id,
        defaults={"author": author, "text": text, "sent_at": sent_at},
    )
    if created:
        _event(case, CaseEvent.Kind.MESSAGE, actor, text, author=author, message=message.pk)
        _offer(case, findings, [text], actor, "chat")
        push.publish(f"case:{case.pk}")  # an open case page shows the line now
        back = author == ChatMessage.Author.SUBSCRIBER and case.subscriber_left_chat
        if back and (case.chat_state_at is None or sent_at > case.chat_state_at):
            _set_chat_state(case, ChatState.OPEN, sent_at, actor)
    return message, created


CHAT_TARGET = "chat"  # settings.DELIVERY_TARGETS
CHAT_REPLY_MAX_CHARS = 4000


def chat_replies_enabled() -> bool:
    """Replies need the chat backend's address (CHAT_WEBHOOK_URL); without it the reply box
    is hidden and everything else works."""
    return target_enabled(CHAT_TARGET)


def chat_left_message(case: Case) -> str:
    """Why a reply cannot go: the subscriber is no longer in the chat."""
    at = timezone.localtime(case.chat_state_at).strftime("%H:%M") if case.chat_state_at else ""
    if case.chat_state == ChatState.TIMED_OUT:
        text = _("Чат закрыт по тайм-ауту в %(at)s: абонент ответ не увидит.")
    else:
        text = _("Абонент закрыл чат в %(at)s: ответ он не увидит.")
    return str(text % {"at": at}) + " " + _("Позвоните ему или отправьте SMS.")


def _author_name(user: User) -> str:
    # What the subscriber sees in the app: first name and initial of the last, never a login.
    first, last = user.first_name.strip(), user.last_name.strip()
    if first:
        return f"{first} {last[:1]}." if last else first
    return _("Специалист центра")


@transaction.atomic
def case_chat_reply(
    *, case: Case, text: str, request_id: str, actor: User, expected_version: int | None = None
) -> tuple[ChatMessage, bool]:
    """A specialist's answer in the subscriber's chat: (message, created).

    The message row and its delivery row are written here, in one transaction under the case's
    row lock (so one case's replies get ids in the order they commit, and go out in that
    order); the delivery task runs after commit. The same request id twice is one message,
    answered even if the version has moved on since (the retry's own write moved it)."""
    external_id = f"fc-{request_id}"
    case = _lock(case, None)
    existing = (
        ChatMessage.objects.select_related("delivery")
        .filter(case=case, external_id=external_id)
        .first()
    )
    if existing:
        return existing, False
    _check_version(case, expected_version)
    if not chat_replies_enabled():
        raise ValidationError(
            _("Ответы в чат не настроены: не задан адрес чат-платформы."), code="chat_off"
        )
    if case.channel != Channel.CHAT:
        raise ValidationError(
            _("Обращение пришло не из чата: ответьте по телефону или SMS."), code="not_chat"
        )
    _require_open(case, _("Обращение закрыто: ответ в чат не отправлен."))
    if case.subscriber_left_chat:
        raise ValidationError(chat_left_message(case), code="chat_left")
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Напишите ответ.")}, code="blank")
    if len(text) > CHAT_REPLY_MAX_CHARS:
        raise ValidationError(
            {"text": _("Не больше %(n)d символов.") % {"n": CHAT_REPLY_MAX_CHARS}},
            code="too_long",
        )
    now = timezone.now()
    delivery = delivery_enqueue(
        target=CHAT_TARGET,
        event_type="chat.message",
        ordering_key=f"case:{case.pk}",
        data={
            "message_id": external_id,
            "chat_id": case.external_id,
            "case_id": case.pk,
            "case_number": case.number,
            "text": text,
            "author": {"kind": "specialist", "name": _author_name(actor)},
            "sent_at": now,
        },
    )
    message = ChatMessage.objects.create(
        case=case,
        external_id=external_id,
        author=ChatMessage.Author.SPECIALIST,
        text=text,
        sent_at=now,
        sender=actor,
        delivery=delivery,
    )
    _save(case, [], actor)
    _event(
        case, CaseEvent.Kind.MESSAGE, actor, text, author=message.author, message=message.pk,
        reply=True,
    )  # fmt: skip
    return message, True


@transaction.atomic
def case_chat_resend(*, case: Case, message: ChatMessage, actor: User) -> ChatMessage:
    """A supervisor sends a reply the chat backend refused once more (same webhook-id)."""
    if message.case_id != case.pk or message.delivery is None:
        raise ValidationError(_("Это сообщение не отправлялось отсюда."), code="not_outbound")
    try:
        message.delivery = delivery_resend(delivery=message.delivery)
    except DeliveryConflict as exc:
        raise ValidationError(str(exc), code="not_failed") from exc
    _event(
        case, CaseEvent.Kind.MESSAGE, actor, _("Повторная отправка в чат"), message=message.pk,
        reply=True,
    )  # fmt: skip
    return message


def _set_chat_state(case: Case, state: str, at: datetime, actor: User | None) -> None:
    Case.objects.filter(pk=case.pk).update(chat_state=state, chat_state_at=at)
    case.chat_state, case.chat_state_at = state, at
    _event(case, CaseEvent.Kind.CHAT_STATE, actor, state=state, at=at.isoformat())
    push.publish(f"case:{case.pk}")


@transaction.atomic
def case_chat_set_state(
    *, case: Case, state: str, changed_at: datetime | None, actor: User
) -> tuple[Case, bool]:
    """The chat backend reports the session's state: (case, changed). A report older than the
    one we have is ignored (they can arrive out of order); the same report twice changes
    nothing. Not a person's change: the version stays."""
    if state not in ChatState.values:
        raise ValidationError({"state": _("Неизвестное состояние чата.")}, code="invalid")
    changed_at = changed_at or timezone.now()
    case = _lock(case, None)
    if case.chat_state_at is not None and changed_at <= case.chat_state_at:
        return case, False
    if case.chat_state == state:
        Case.objects.filter(pk=case.pk).update(chat_state_at=changed_at)
        case.chat_state_at = changed_at
        return case, False
    _set_chat_state(case, state, changed_at, actor)
    return case, True


# --- The case's SMS ---------------------------------------------------------------------------


@transaction.atomic
def case_sms_schedule(
    *,
    case: Case,
    text: str,
    send_after: datetime | None,
    request_id: str,
    actor: User,
    expected_version: int | None = None,
) -> tuple[Reminder, bool]:
    """A specialist's SMS to the subscriber: (reminder, created). The SMS rules (open case, no
    «СТОП», length, no links) are reminders.services'; this adds the case's version.

    A retry of a request that got through (same request id) is answered with its SMS even
    though the version has moved on since: that is the retry's own write."""
    case = _lock(case, None)
    if reminder_find_manual(case=case, request_id=request_id) is None:
        _check_version(case, expected_version)
    reminder, created = reminder_schedule_manual(
        case=case, text=text, send_after=send_after, request_id=request_id, actor=actor
    )
    if created:
        _save(case, [], actor)
    return reminder, created


@transaction.atomic
def case_sms_cancel(
    *, case: Case, reminder: Reminder, actor: User, expected_version: int | None = None
) -> Reminder:
    """Cancel one of the case's scheduled SMS; cancelling it twice is harmless."""
    case = _lock(case, None)
    if reminder.case_id != case.pk:
        raise ValidationError(_("Это SMS другого обращения."))
    if reminder.status == Reminder.Status.CANCELLED:
        return reminder
    _check_version(case, expected_version)
    reminder = reminder_cancel(reminder=reminder, actor=actor, reason="manual")
    _save(case, [], actor)
    return reminder


# --- Staff and the queue ----------------------------------------------------------------------


def staff_profile_for(user: User) -> StaffProfile:
    """The person's queue settings, created with the defaults on first use."""
    profile, _created = StaffProfile.objects.get_or_create(user=user)
    return profile


def staff_time_zone(user: User) -> ZoneInfo:
    """The time zone the person's pages show times in: read with the session's user
    (cases.roles), else from their profile (made with the defaults on first use)."""
    name = kept_time_zone(user)
    if name:
        return _zone(name)
    return staff_profile_for(user).time_zone


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@transaction.atomic
def staff_set_availability(*, actor: User, user: User, is_available: bool) -> StaffProfile:
    """A supervisor marks a specialist on shift (available) or absent."""
    require_supervisor(actor)
    if not has_role(user, Role.SPECIALIST, Role.SUPERVISOR):
        raise ValidationError({"user": _("Это не специалист.")})
    StaffProfile.objects.get_or_create(user=user)
    profile = StaffProfile.objects.select_for_update().get(user=user)
    if profile.is_available != is_available:
        profile.is_available = is_available
        profile.save(update_fields=["is_available"])
    return profile


BREAK_MINUTES_MAX = 240


@transaction.atomic
def staff_set_absence(
    *,
    actor: User,
    user: User,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    minutes: int | None = None,
    kind: str = Absence.Kind.BREAK,
    note: str = "",
) -> Absence:
    """Mark someone away: a break from now for `minutes`, or a planned window. A supervisor
    for anyone on the line, a specialist for themself (rules `cases.set_absence`)."""
    if not may_set_absence(actor, user):
        raise PermissionDenied(_("Отмечать отсутствие другого сотрудника может старший смены."))
    if not has_role(user, Role.SPECIALIST, Role.SUPERVISOR):
        raise ValidationError({"user": _("Это не специалист.")})
    now = timezone.now()
    if minutes is not None:
        if not 1 <= minutes <= BREAK_MINUTES_MAX:
            raise ValidationError(
                {"minutes": _("Перерыв — от 1 до %(max)d минут.") % {"max": BREAK_MINUTES_MAX}}
            )
        starts_at, ends_at = now, now + timedelta(minutes=minutes)
    if starts_at is None or ends_at is None:
        raise ValidationError(_("Укажите начало и конец отсутствия."))
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": _("Конец отсутствия раньше начала.")})
    if ends_at <= now:
        raise ValidationError({"ends_at": _("Это отсутствие уже закончилось.")})
    return Absence.objects.create(
        user=user, kind=kind, starts_at=starts_at, ends_at=ends_at, note=note, created_by=actor
    )


@transaction.atomic
def staff_end_absence(*, actor: User, user: User) -> int:
    """«Вернулся»: every absence of `user` going on now ends now. The number ended."""
    if not may_set_absence(actor, user):
        raise PermissionDenied(_("Отмечать отсутствие другого сотрудника может старший смены."))
    now = timezone.now()
    current = Absence.objects.current(now).filter(user=user)
    return current.update(ends_at=now)


def assignment_warnings(*, assignee: User | None, adding: int) -> list[str]:
    """What a supervisor should confirm before giving `adding` cases to `assignee`: they are
    off shift or away right now, or it takes them past their cap."""
    if assignee is None:
        return []
    warnings = []
    name = assignee.get_full_name() or assignee.username
    profile = StaffProfile.objects.filter(user=assignee).first() or StaffProfile(user=assignee)
    away = current_absence(user=assignee)
    if not profile.is_available:
        warnings.append(_("%(who)s отмечен(а) как отсутствующий(ая).") % {"who": name})
    elif away:
        until = timezone.localtime(away.ends_at).strftime("%H:%M")
        warnings.append(
            _("%(who)s сейчас отсутствует (%(kind)s до %(until)s).")
            % {"who": name, "kind": away.get_kind_display(), "until": until}
        )
    load = Case.objects.open().filter(assignee=assignee).count()
    if load + adding > profile.max_open_cases:
        warnings.append(
            _("У %(who)s станет %(n)d открытых обращений при пределе %(max)d.")
            % {"who": name, "n": load + adding, "max": profile.max_open_cases}
        )
    return warnings


@transaction.atomic
def case_take_next(*, actor: User) -> Case | None:
    """«Взять следующее»: the most urgent unassigned open case (earliest deadline, then
    priority, then the oldest) goes to the specialist who asked; None when the queue is empty.

    Two specialists pressing it at once never get the same case: the candidate is claimed
    with SKIP LOCKED (PostgreSQL), so the second takes the next one; on SQLite the
    transactions are IMMEDIATE and simply take turns."""
    if not may_take(actor):
        raise PermissionDenied(_("Брать обращения из очереди может только специалист."))
    case = (
        Case.objects.open()
        .filter(assignee__isnull=True)
        .select_for_update(skip_locked=True, of=("self",))
        .order_by(F("due_at").asc(nulls_last=True), "-priority", "created_at", "pk")
        .first()
    )
    if case is None:
        return None
    return case_assign(case=case, assignee=actor, actor=actor)


def staff_prepare_for_assignment() -> list[int]:
    """The active specialists' ids, each with a profile row, created up front (outside the
    locking transaction) so that every one can be locked."""
    specialists = list(
        get_user_model()
        .objects.filter(groups__name=Role.SPECIALIST, is_active=True)
        .values_list("pk", flat=True)
    )
    StaffProfile.objects.bulk_create(
        [StaffProfile(user_id=pk) for pk in specialists], ignore_conflicts=True
    )
    return specialists


def staff_available_locked(specialists: list[int]) -> tuple[list[StaffProfile], dict[int, int]]:
    """Who may get work now, and their open cases: on shift, not on a break or a planned
    absence; their profile rows locked in pk order (inside the caller's transaction), so
    concurrent assignments take turns and each sees the loads the other committed. Used by
    the cases' and the callbacks' auto-assignment alike."""
    profiles = list(
        StaffProfile.objects.select_for_update(of=("self",))
        .filter(user_id__in=specialists, is_available=True)
        .exclude(user_id__in=Absence.objects.current().values("user_id"))
        .select_related("user")
        .order_by("pk")
    )
    loads = dict(
        Case.objects.open()
        .filter(assignee_id__in=[p.user_id for p in profiles])
        .values_list("assignee_id")
        .annotate(n=Count("id"))
    )
    return profiles, {p.user_id: loads.get(p.user_id, 0) for p in profiles}


def cases_auto_assign(*, actor: User, limit: int = 100) -> list[Case]:
    """Give each unassigned open case (most urgent first, then earliest deadline) to the
    available specialist with the fewest open cases, never above their max_open_cases.

    Two supervisors pressing the button at once must not assign a case twice or push
    anyone over the cap: the profiles are locked (staff_available_locked); the cases are
    claimed with SKIP LOCKED, so a case someone is assigning by hand right now is left
    alone. On SQLite select_for_update is a no-op, but our transactions are IMMEDIATE
    (settings), which serialises writers just the same."""
    require_supervisor(actor)
    specialists = staff_prepare_for_assignment()
    assigned: list[Case] = []
    with transaction.atomic():
        profiles, load = staff_available_locked(specialists)
        if not profiles:
            return []
        capacity = sum(max(p.max_open_cases - load[p.user_id], 0) for p in profiles)
        if capacity <= 0:
            return []
        cases = list(
            Case.objects.open()
            .filter(assignee__isnull=True)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("-priority", F("due_at").asc(nulls_last=True), "created_at", "pk")[
                : min(limit, capacity)
            ]
        )
        for case in cases:
            free = [p for p in profiles if load[p.user_id] < p.max_open_cases]
            if not free:
                break
            target = min(free, key=lambda p: (load[p.user_id], p.pk))
            assigned.append(case_assign(case=case, assignee=target.user, actor=actor))
            load[target.user_id] += 1
    return assigned
