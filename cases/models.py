from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.db.models import F, Func, Q, TextField
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField
from timezone_field import TimeZoneField

from playbooks.models import Category, PlaybookVersion, Priority, Step

# The workflow's vocabulary lives in cases.choices; imported here too, where most code looks.
from .choices import OPEN_STATUSES as OPEN_STATUSES
from .choices import OUTCOMES_CANCELLING_SMS as OUTCOMES_CANCELLING_SMS
from .choices import OUTCOMES_WITHOUT_STEPS as OUTCOMES_WITHOUT_STEPS
from .choices import TRANSITIONS as TRANSITIONS
from .choices import Channel as Channel
from .choices import ChatState as ChatState
from .choices import IdentifierKind as IdentifierKind
from .choices import Outcome as Outcome
from .choices import Status as Status
from .rules import visible_cases_q
from .search import SQL_FUNCTION as SEARCH_SQL_FUNCTION
from .search import websearch_q


class Subscriber(models.Model):
    msisdn = PhoneNumberField(_("номер телефона"), unique=True)
    name = models.CharField(_("имя"), max_length=200, blank=True)
    time_zone = TimeZoneField(_("часовой пояс"), default="Europe/Moscow")
    sms_opt_out = models.BooleanField(_("отказ от SMS"), default=False)
    sms_opt_out_at = models.DateTimeField(_("когда отказался от SMS"), null=True, blank=True)
    created_at = models.DateTimeField(_("создан"), default=timezone.now)
    # Set by the retention job (cases/retention.py) once all the subscriber's cases are.
    anonymised_at = models.DateTimeField(_("обезличен"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("абонент")
        verbose_name_plural = _("абоненты")

    def __str__(self) -> str:
        return str(self.msisdn)


class CaseQuerySet(models.QuerySet["Case"]):
    def open(self) -> CaseQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def overdue(self, now=None) -> CaseQuerySet:
        return self.open().filter(due_at__lt=now or timezone.now())

    def for_list(self) -> CaseQuerySet:
        return self.select_related("subscriber", "category", "assignee")

    def for_detail(self) -> CaseQuerySet:
        """Everything the case page and the API's detail show, in a fixed number of queries."""
        return self.select_related(
            "subscriber", "category", "assignee", "created_by", "playbook_version__playbook"
        ).prefetch_related(
            models.Prefetch("events", queryset=CaseEvent.objects.timeline()),
            models.Prefetch("step_outcomes", queryset=StepOutcome.objects.select_related("actor")),
            # With each reply's delivery state (a join: the same one query).
            models.Prefetch("messages", queryset=ChatMessage.objects.select_related("delivery")),
            # Identifiers found in its texts, not yet added or dismissed.
            models.Prefetch(
                "suggestions", queryset=IdentifierSuggestion.objects.filter(resolved=False)
            ),
            "calls",  # the calls it was opened from (calls.Call.case), by the reverse relation
        )

    def for_panel(self) -> CaseQuerySet:
        """What a part of the case page answered in place after a write shows (a step's row,
        the chat, the SMS) besides its own rows: the subscriber, the timeline, the version."""
        return self.select_related("subscriber").prefetch_related(
            models.Prefetch("events", queryset=CaseEvent.objects.timeline())
        )

    def visible_to(self, user: Any) -> CaseQuerySet:
        """The cases this user may see (cases.rules `cases.view_case`, as a filter)."""
        condition = visible_cases_q(user)
        return self if condition is None else self.filter(condition)

    def search(self, text: str) -> CaseQuerySet:
        """Text search over summary and description, for the API and the staff lists.

        PostgreSQL: Russian full text («Госуслуг» finds «госуслуги», «мошенники» finds
        «мошенник»); the vector is exactly the expression of the GIN index
        case_fulltext_ru_idx (migration 0004), or the index is not used. SQLite (the
        embedded default): the same stemmers and stop words in Python (cases.search), so
        both find the same cases."""
        text = text.strip()
        if not text:
            return self
        if connection.vendor == "postgresql":
            from django.contrib.postgres.search import SearchQuery, SearchVector

            vector = SearchVector("summary", "description", config="russian")
            query = SearchQuery(text, config="russian", search_type="websearch")
            return self.alias(fulltext=vector).filter(fulltext=query)
        condition = websearch_q("search_stems", text)
        if condition is None:  # only stop words: PostgreSQL's query is empty, nothing matches
            return self.none()
        stemmed = Func(
            F("summary"), F("description"), function=SEARCH_SQL_FUNCTION, output_field=TextField()
        )
        return self.alias(search_stems=stemmed).filter(condition)


class Case(models.Model):
    number = models.CharField(_("номер"), max_length=32, unique=True, null=True, editable=False)
    channel = models.CharField(_("канал"), max_length=16, choices=Channel.choices)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="cases", verbose_name=_("категория")
    )
    playbook_version = models.ForeignKey(
        PlaybookVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cases",
        verbose_name=_("версия сценария"),
    )
    status = models.CharField(
        _("статус"), max_length=16, choices=Status.choices, default=Status.NEW
    )
    priority = models.PositiveSmallIntegerField(
        _("приоритет"), choices=Priority.choices, default=Priority.NORMAL
    )
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.PROTECT, related_name="cases", verbose_name=_("абонент")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cases",
        verbose_name=_("исполнитель"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="created_cases",
        verbose_name=_("кем создано"),
    )
    summary = models.CharField(_("кратко"), max_length=300)
    description = models.TextField(_("описание"), blank=True)
    # Triage at intake: a disclosed code means the scammer may be logging in right now.
    code_disclosed = models.BooleanField(_("абонент сообщил код"), default=False)
    password_disclosed = models.BooleanField(_("абонент сообщил пароль"), default=False)
    personal_data_disclosed = models.BooleanField(
        _("абонент сообщил персональные данные"), default=False
    )
    money_lost = models.BooleanField(_("абонент потерял деньги"), default=False)
    money_amount = models.DecimalField(
        _("сумма потерь, ₽"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    outcome = models.CharField(_("итог"), max_length=32, choices=Outcome.choices, blank=True)
    external_id = models.CharField(_("внешний идентификатор"), max_length=128, blank=True)
    due_at = models.DateTimeField(_("срок"), null=True, blank=True)
    first_action_at = models.DateTimeField(_("первое действие"), null=True, blank=True)
    created_at = models.DateTimeField(_("создано"), default=timezone.now)
    updated_at = models.DateTimeField(_("изменено"), auto_now=True)
    resolved_at = models.DateTimeField(_("решено"), null=True, blank=True)
    closed_at = models.DateTimeField(_("закрыто"), null=True, blank=True)
    # Set by the retention job (cases/retention.py): free text scrubbed, figures kept.
    anonymised_at = models.DateTimeField(_("обезличено"), null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(_("версия записи"), default=1)
    # The chat session as the chat backend last reported it (chat cases only; blank: never
    # reported, taken as open). Not a person's change: the version stays.
    chat_state = models.CharField(
        _("состояние чата"),
        max_length=24,
        choices=ChatState.choices,
        blank=True,
        db_default="",  # bulk loads (COPY) leave it out
    )
    chat_state_at = models.DateTimeField(_("состояние чата с"), null=True, blank=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("обращение")
        verbose_name_plural = _("обращения")
        permissions = [("export_unmasked", _("Выгрузка без маскирования персональных данных"))]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="case_created_idx"),
            models.Index(fields=["subscriber", "-created_at"], name="case_subscriber_idx"),
            models.Index(fields=["status", "category", "-created_at"], name="case_status_cat_idx"),
            models.Index(fields=["assignee", "status"], name="case_assignee_status_idx"),
            # Each specialist's load (queue page, assignment): their open cases, index-only.
            models.Index(
                fields=["assignee", "due_at"],
                name="case_open_load_idx",
                condition=Q(assignee__isnull=False, status__in=["new", "in_progress", "waiting"]),
            ),
            models.Index(
                fields=["priority", "due_at"],
                name="case_queue_idx",
                condition=Q(assignee__isnull=True, status__in=["new", "in_progress", "waiting"]),
            ),
            # The queue board's exact order (most urgent, then earliest deadline), so its first
            # page is an index range scan however many cases wait.
            models.Index(
                F("priority").desc(),
                "due_at",  # ASC is NULLS LAST on PostgreSQL, as the board orders
                "created_at",
                "id",
                name="case_queue_order_idx",
                condition=Q(assignee__isnull=True, status__in=["new", "in_progress", "waiting"]),
            ),
            # The retention job's claim: closed, not yet anonymised, oldest closed first.
            models.Index(
                fields=["closed_at", "id"],
                name="case_retention_idx",
                condition=Q(status="closed", anonymised_at__isnull=True),
            ),
        ]
        constraints = [
            # The second guard against a retried call creating two cases (the first: idempotency).
            models.UniqueConstraint(
                fields=["created_by", "external_id"],
                condition=~Q(external_id=""),
                name="case_external_id_unique_per_source",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"#{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def subscriber_left_chat(self) -> bool:
        return self.chat_state in (ChatState.CLOSED_BY_SUBSCRIBER, ChatState.TIMED_OUT)

    def allowed_next_statuses(self) -> tuple[str, ...]:
        return TRANSITIONS[self.status]

    def time_left(self) -> timedelta | None:
        if self.due_at is None:
            return None
        return self.due_at - timezone.now()


class CaseEventQuerySet(models.QuerySet["CaseEvent"]):
    def timeline(self) -> CaseEventQuerySet:
        """The events as the timeline shows them: each with who did it (one query)."""
        return self.select_related("actor")


class CaseEvent(models.Model):
    """The case timeline: one row per thing that happened, with who and when."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Создано")
        NOTE = "note", _("Заметка")
        STATUS = "status", _("Смена статуса")
        ASSIGNED = "assigned", _("Назначение")
        UPDATED = "updated", _("Изменение")
        MESSAGE = "message", _("Сообщение чата")
        STEP = "step", _("Шаг сценария")
        IDENTIFIER = "identifier", _("Идентификатор мошенника")
        SMS_SCHEDULED = "sms_scheduled", _("SMS запланировано")
        SMS_SENT = "sms_sent", _("SMS отправлено")
        SMS_DELIVERED = "sms_delivered", _("SMS доставлено")
        SMS_FAILED = "sms_failed", _("SMS не отправлено")
        SMS_CANCELLED = "sms_cancelled", _("SMS отменено")
        CHAT_STATE = "chat_state", _("Состояние чата")
        MASKED = "masked", _("Скрыты секреты")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("тип"), max_length=32, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("кто"),
    )
    text = models.TextField(_("текст"), blank=True)
    data = models.JSONField(_("данные"), default=dict, blank=True)
    created_at = models.DateTimeField(_("когда"), default=timezone.now)

    objects = CaseEventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"], name="event_case_idx")]
        verbose_name = _("событие обращения")
        verbose_name_plural = _("события обращений")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M}"


class ChatMessage(models.Model):
    class Author(models.TextChoices):
        SUBSCRIBER = "subscriber", _("Абонент")
        SPECIALIST = "specialist", _("Специалист")
        BOT = "bot", _("Бот")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages")
    external_id = models.CharField(_("внешний идентификатор"), max_length=128)
    author = models.CharField(_("автор"), max_length=16, choices=Author.choices)
    text = models.TextField(_("текст"))
    sent_at = models.DateTimeField(_("отправлено"))
    created_at = models.DateTimeField(_("получено"), default=timezone.now)
    # A reply written here: who wrote it and its delivery to the chat backend. Lines that came
    # from the backend have neither.
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("кто написал"),
    )
    delivery = models.OneToOneField(
        "deliveries.Delivery",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chat_message",
        verbose_name=_("доставка в чат"),
    )

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "external_id"], name="chat_message_unique"),
        ]
        verbose_name = _("сообщение чата")
        verbose_name_plural = _("сообщения чата")

    def __str__(self) -> str:
        return f"{self.get_author_display()} {self.sent_at:%Y-%m-%d %H:%M}"


class StepOutcome(models.Model):
    class Result(models.TextChoices):
        DONE = "done", _("Выполнено")
        NOT_APPLICABLE = "not_applicable", _("Неприменимо")
        REFUSED = "refused", _("Абонент отказался")
        ESCALATED = "escalated", _("Эскалировано")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="step_outcomes")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="+")
    result = models.CharField(_("результат"), max_length=16, choices=Result.choices)
    note = models.TextField(_("комментарий"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    recorded_at = models.DateTimeField(_("когда"), default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "step"], name="step_outcome_unique"),
        ]
        verbose_name = _("результат шага")
        verbose_name_plural = _("результаты шагов")

    def __str__(self) -> str:
        return self.get_result_display()


class ScammerIdentifier(models.Model):
    """A number, sender name, site, card, messenger account or bank account a scammer used,
    normalised (cases.identifiers) so that the same thing written differently is one row."""

    Kind = IdentifierKind

    class Verdict(models.TextChoices):
        NONE = "", _("Не рассмотрен")
        CONFIRMED = "confirmed", _("Мошеннический")
        REJECTED = "rejected", _("Не мошеннический")

    kind = models.CharField(_("тип"), max_length=16, choices=Kind.choices)
    # The unique key: E.164, the registrable domain, "card:<keyed hash>", "telegram:@name"…
    value = models.CharField(_("значение"), max_length=500)
    # What people see: the number formatted, the host, "•••• 1234" (never a full card number).
    display = models.CharField(_("как показывать"), max_length=200, blank=True, db_default="")
    first_seen_at = models.DateTimeField(_("впервые"), default=timezone.now)
    last_reported_at = models.DateTimeField(_("последнее сообщение"), null=True, blank=True)
    # Distinct subscribers who reported it within INTEL_CANDIDATE_WINDOW_DAYS, as of the last
    # report; kept by intel.services as reports arrive, never by scanning the cases.
    reporters = models.PositiveIntegerField(_("сообщили абонентов"), db_default=0, default=0)
    # Since when it waits for a supervisor's decision (reported by enough subscribers).
    candidate_since = models.DateTimeField(_("кандидат с"), null=True, blank=True)
    verdict = models.CharField(
        _("решение"), max_length=16, choices=Verdict.choices, blank=True, db_default="", default=""
    )
    verdict_at = models.DateTimeField(_("когда решено"), null=True, blank=True)
    verdict_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("кто решил"),
    )
    verdict_note = models.CharField(_("пояснение"), max_length=500, blank=True, db_default="")
    cases = models.ManyToManyField(Case, through="CaseIdentifier", related_name="identifiers")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="scammer_identifier_unique"),
        ]
        indexes = [
            # The review page: candidates waiting, most reported first.
            models.Index(
                fields=["-reporters", "-candidate_since"],
                name="identifier_candidate_idx",
                condition=Q(candidate_since__isnull=False, verdict=""),
            ),
            # The confirmed list (CSV) and decided ones.
            models.Index(fields=["verdict", "kind", "value"], name="identifier_verdict_idx"),
            # The most reported of each kind (the reports).
            models.Index(fields=["kind", "-reporters"], name="identifier_kind_reporters_idx"),
        ]
        verbose_name = _("идентификатор мошенника")
        verbose_name_plural = _("идентификаторы мошенников")

    def __str__(self) -> str:
        return self.display or self.value


class CaseIdentifier(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    identifier = models.ForeignKey(
        ScammerIdentifier, on_delete=models.PROTECT, related_name="links"
    )
    # As it was reported here (the exact URL of a site; "•••• 1234" for a card, never more).
    raw = models.CharField(_("как сообщили"), max_length=500, blank=True, db_default="")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "identifier"], name="case_identifier_unique"),
        ]
        # "Seen in N cases" counts this index only.
        indexes = [
            models.Index(fields=["identifier", "case"], name="identifier_case_idx"),
            # Distinct subscribers within the window: this identifier's recent links.
            models.Index(fields=["identifier", "created_at"], name="identifier_recent_idx"),
        ]
        verbose_name = _("идентификатор в обращении")
        verbose_name_plural = _("идентификаторы в обращениях")

    def __str__(self) -> str:
        return f"{self.case_id}: {self.identifier_id}"


class IdentifierSuggestion(models.Model):
    """An identifier found in the case's text (a phone number, a site, a card that was
    masked, a Telegram name), offered to the specialist to add in one click."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="suggestions")
    kind = models.CharField(_("тип"), max_length=16, choices=IdentifierKind.choices)
    value = models.CharField(_("значение"), max_length=500)
    display = models.CharField(_("как показывать"), max_length=200)
    raw = models.CharField(_("как написано"), max_length=500, blank=True)
    # Added as an identifier, or dismissed: no longer offered.
    resolved = models.BooleanField(_("разобрано"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "kind", "value"], name="identifier_suggestion_unique"
            ),
        ]
        verbose_name = _("найденный идентификатор")
        verbose_name_plural = _("найденные идентификаторы")

    def __str__(self) -> str:
        return self.display


class StaffProfile(models.Model):
    """Per-person settings for the queue: availability, load cap, the person's time zone."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    is_available = models.BooleanField(_("на смене"), default=True)
    max_open_cases = models.PositiveSmallIntegerField(_("предел открытых обращений"), default=15)
    time_zone = TimeZoneField(_("часовой пояс"), default="Europe/Moscow")
    # The PBX names who answered by extension (answeringNumber) or by name (user[]).
    cti_extension = models.CharField(
        _("внутренний номер (CTI)"), max_length=32, blank=True, db_index=True
    )

    class Meta:
        verbose_name = _("профиль сотрудника")
        verbose_name_plural = _("профили сотрудников")

    def __str__(self) -> str:
        return str(self.user)


class AbsenceQuerySet(models.QuerySet["Absence"]):
    def current(self, now: Any = None) -> AbsenceQuerySet:
        """The absences going on at `now` (default: now)."""
        now = now or timezone.now()
        return self.filter(starts_at__lte=now, ends_at__gt=now)


class Absence(models.Model):
    """A window when a specialist is away: a break («back in 15 minutes») or a planned absence
    (a doctor's visit, the end of a shift). Auto-assignment passes them over while it lasts; the
    queue shows until when; assigning to them asks the supervisor to confirm."""

    class Kind(models.TextChoices):
        BREAK = "break", _("перерыв")
        PLANNED = "planned", _("плановое отсутствие")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="absences"
    )
    kind = models.CharField(_("вид"), max_length=16, choices=Kind.choices, default=Kind.BREAK)
    starts_at = models.DateTimeField(_("с"))
    ends_at = models.DateTimeField(_("по"))
    note = models.CharField(_("примечание"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    objects = AbsenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("отсутствие")
        verbose_name_plural = _("отсутствия")
        indexes = [models.Index(fields=["user", "ends_at"], name="absence_user_end_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="absence_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        kind = self.get_kind_display()
        return f"{self.user} {kind} {self.starts_at:%d.%m %H:%M}–{self.ends_at:%H:%M}"


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key: the stored response is replayed for a retried request.

    Written in the same transaction as the rows the request creates, so a key that exists
    in state DONE always has its case."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", _("Выполняется")
        DONE = "done", _("Выполнен")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_unique"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]
        verbose_name = _("ключ идемпотентности")
        verbose_name_plural = _("ключи идемпотентности")

    def __str__(self) -> str:
        return self.key
