"""Reads shared by the staff pages and the API. Each runs a fixed number of queries,
whatever the data size; counts are annotated, never computed per row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Case as SqlCase
from django.db.models import (
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    TextChoices,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Concat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from playbooks.models import Step
from playbooks.selectors import version_steps

from .deadlines import deadline_class, time_left
from .models import (
    OPEN_STATUSES,
    Absence,
    Case,
    CaseEvent,
    CaseIdentifier,
    Channel,
    ChatMessage,
    ScammerIdentifier,
    StaffProfile,
    Status,
    StepOutcome,
    Subscriber,
)
from .personal_data import mask_phone, mask_text
from .phones import normalize_msisdn
from .roles import Role
from .search import Fold


@dataclass
class SubscriberHistory:
    subscriber: Subscriber
    open_cases: list[Case] = field(default_factory=list)
    recent_cases: list[Case] = field(default_factory=list)
    total_cases: int = 0
    cases_in_repeat_window: int = 0

    @property
    def is_repeat_victim(self) -> bool:
        """They are calling again: the card is looked up for a new contact, so one earlier case
        within REPEAT_VICTIM_DAYS (closed ones included) already makes this a repeat."""
        return self.cases_in_repeat_window >= 1


def subscriber_find(*, phone: str) -> Subscriber | None:
    """Find by any common format; a malformed number raises ValidationError."""
    return Subscriber.objects.filter(msisdn=normalize_msisdn(phone)).first()


def subscriber_history(*, subscriber: Subscriber, recent: int = 10) -> SubscriberHistory:
    """The subscriber card: open cases first, then the latest ones. One query: the counts
    over all their cases are window aggregates on the rows (computed before the LIMIT)."""
    now = timezone.now()
    window = now - timedelta(days=settings.REPEAT_VICTIM_DAYS)
    open_rank = SqlCase(
        When(status__in=OPEN_STATUSES, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    rows = list(
        Case.objects.filter(subscriber=subscriber)
        .select_related("category", "assignee")
        .annotate(
            open_rank=open_rank,
            total_cases=Window(Count("id")),
            cases_in_window=Window(Count("id", filter=Q(created_at__gte=window))),
        )
        .order_by("open_rank", "-created_at", "-id")[: recent + 20]
    )
    history = SubscriberHistory(
        subscriber=subscriber,
        total_cases=rows[0].total_cases if rows else 0,
        cases_in_repeat_window=rows[0].cases_in_window if rows else 0,
    )
    cases: list[Case] = list(rows)
    history.open_cases = [c for c in cases if c.status in OPEN_STATUSES]
    history.recent_cases = sorted(cases, key=lambda c: (c.created_at, c.pk), reverse=True)[:recent]
    return history


def identifiers_for_case(*, case: Case) -> list[ScammerIdentifier]:
    """The case's scammer identifiers, each with how many cases reported it (one query)."""
    reported = (
        CaseIdentifier.objects.filter(identifier=OuterRef("pk"))
        .values("identifier")
        .annotate(n=Count("*"))
        .values("n")
    )
    return list(
        ScammerIdentifier.objects.filter(links__case=case)
        .annotate(case_count=Subquery(reported, output_field=IntegerField()))
        .order_by("kind", "value")
    )


def identifier_case_count(*, identifier: ScammerIdentifier) -> int:
    """In how many cases the identifier was reported (the answer to adding it)."""
    return CaseIdentifier.objects.filter(identifier=identifier).count()


def case_get_detail(*, case_id: int) -> Case:
    """A case with everything its page shows, in a fixed number of queries.

    Raises Case.DoesNotExist."""
    return (
        Case.objects.select_related(
            "subscriber", "category", "assignee", "created_by", "playbook_version__playbook"
        )
        .prefetch_related(
            Prefetch("events", queryset=CaseEvent.objects.timeline()),
            Prefetch("step_outcomes", queryset=StepOutcome.objects.select_related("actor")),
            "messages",
        )
        .get(pk=case_id)
    )


def chat_messages_for_case(*, case_id: int) -> list[ChatMessage]:
    """The conversation in order, each reply with its author and delivery log (two queries:
    the lines with sender and delivery joined, and the delivery attempts)."""
    return list(
        ChatMessage.objects.filter(case_id=case_id)
        .select_related("sender", "delivery")
        .prefetch_related("delivery__log")
        .order_by("sent_at", "id")
    )


@dataclass
class StepRow:
    step: Step
    outcome: StepOutcome | None


def case_steps(*, case: Case) -> list[StepRow]:
    """The pinned playbook's steps with this case's outcome for each (one query for steps;
    outcomes come from the prefetch when case_get_detail() loaded the case)."""
    if not case.playbook_version_id:
        return []
    outcomes = {o.step_id: o for o in case.step_outcomes.all()}
    steps = version_steps(case.playbook_version_id)
    return [StepRow(step=s, outcome=outcomes.get(s.pk)) for s in steps]


# --- Lists ------------------------------------------------------------------------------------


@dataclass
class CaseFilters:
    status: str = ""
    category_id: int | None = None
    channel: str = ""
    assignee_id: int | None = None
    unassigned: bool = False
    created_from: datetime | None = None
    created_to: datetime | None = None
    msisdn: str = ""
    number: str = ""
    case_id: int | None = None  # «61» typed as the number: the digits after the dash
    text: str = ""
    identifier_id: int | None = None


@dataclass
class CasePage:
    cases: list[Case]
    next_cursor: str | None


@dataclass(frozen=True)
class CaseListRow:
    """A case as the lists show it: the case and its texts worked out once per page (the
    labels translated once, not per row; the deadline in words). The markup is the template's
    (templates/cases/list.html)."""

    case: Case
    url: str
    created: str
    channel: str
    status: str
    due_class: str
    due_text: str
    assignee: str  # empty: not assigned
    msisdn: str
    summary: str


def case_list_rows(cases: list[Case], *, masked: bool) -> list[CaseListRow]:
    """masked: the viewer may not see personal data in full (cases.access)."""
    now = timezone.now()
    # The labels translated once per page, not once per row.
    channels = {k: str(v) for k, v in Channel.choices}
    statuses = {k: str(v) for k, v in Status.choices}
    rows = []
    for case in cases:
        assignee = case.assignee
        is_open = case.is_open
        rows.append(
            CaseListRow(
                case=case,
                url=reverse("cases:detail", args=[case.pk]),
                created=timezone.localtime(case.created_at).strftime("%d.%m.%Y %H:%M"),
                channel=channels.get(case.channel, case.channel),
                status=statuses.get(case.status, case.status),
                due_class=deadline_class(case.due_at, now=now) if is_open else "",
                due_text=time_left(case.due_at, now=now) if is_open else "—",
                assignee=(assignee.get_full_name() or assignee.username) if assignee else "",
                msisdn=mask_phone(case.subscriber.msisdn)
                if masked
                else str(case.subscriber.msisdn),
                summary=mask_text(case.summary) if masked else case.summary,
            )
        )
    return rows


def _cursor_encode(case: Case) -> str:
    return f"{case.created_at.isoformat()}_{case.pk}"


def cursor_decode(raw: str) -> tuple[datetime, int] | None:
    """A "next page" cursor; anything malformed means "first page"."""
    stamp, _sep, pk = (raw or "").rpartition("_")
    try:
        when = datetime.fromisoformat(stamp)
        return (when, int(pk)) if when.tzinfo else None
    except ValueError:
        return None


# With a text search, PostgreSQL misjudges how many rows match and walks the whole created_at
# index, filtering row by row: 15 s at a million cases for a rare word. Ordering by an
# expression makes it take the GIN index and sort the matches instead: 5 ms for a rare word,
# 0.5 s for a word in every ninth case. Bounded beats fast-on-average.
_CREATED_NO_INDEX = ExpressionWrapper(
    F("created_at") + Value(timedelta(0)), output_field=DateTimeField()
)


_LIST_COLUMNS = (
    "number", "priority", "version", "created_at", "channel", "status", "due_at", "summary",
    "category__name", "assignee__username", "assignee__first_name", "assignee__last_name",
    "subscriber__msisdn",
)  # fmt: skip


def case_list(
    *, filters: CaseFilters, viewer: Any, cursor: str = "", page_size: int = 50
) -> CasePage:
    """One page of cases, newest first, with keyset pagination on (created_at, id): one
    query, no COUNT(*), whatever the table size (index case_created_idx)."""
    # Only the columns the rows show (case_list_rows, cases/jinja2/cases/_case_table.html):
    # all of four tables' columns for 51 rows was a third of the page's time (model
    # instances, timestamps converted, the description's text).
    qs = Case.objects.for_list().only(*_LIST_COLUMNS).visible_to(viewer)
    f = filters
    if f.status == "open":
        qs = qs.open()
    elif f.status:
        qs = qs.filter(status=f.status)
    if f.category_id:
        qs = qs.filter(category_id=f.category_id)
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.unassigned:
        qs = qs.filter(assignee__isnull=True)
    elif f.assignee_id:
        qs = qs.filter(assignee_id=f.assignee_id)
    if f.created_from:
        qs = qs.filter(created_at__gte=f.created_from)
    if f.created_to:
        qs = qs.filter(created_at__lt=f.created_to)
    if f.msisdn:
        qs = qs.filter(subscriber__msisdn=f.msisdn)
    if f.number:
        qs = qs.filter(number=f.number)
    if f.case_id:
        qs = qs.filter(pk=f.case_id)
    if f.identifier_id:
        qs = qs.filter(
            pk__in=CaseIdentifier.objects.filter(identifier_id=f.identifier_id).values("case_id")
        )
    if f.text:
        qs = qs.search(f.text)
    after = cursor_decode(cursor)
    if after:
        when, pk = after
        qs = qs.filter(Q(created_at__lt=when) | Q(created_at=when, pk__lt=pk))
    order = [_CREATED_NO_INDEX.desc(), "-id"] if f.text else ["-created_at", "-id"]
    rows = list(qs.order_by(*order)[: page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    return CasePage(cases=rows, next_cursor=_cursor_encode(rows[-1]) if more and rows else None)


# --- Queue board ------------------------------------------------------------------------------


COUNT_CAP = 1000


@dataclass(frozen=True)
class QueueRow:
    case: Case
    is_overdue: bool
    is_at_risk: bool


@dataclass
class QueueBoard:
    rows: list[QueueRow]
    has_more: bool
    overdue: int
    at_risk: int

    @property
    def overdue_label(self) -> str:
        return f"{COUNT_CAP}+" if self.overdue >= COUNT_CAP else str(self.overdue)

    @property
    def at_risk_label(self) -> str:
        return f"{COUNT_CAP}+" if self.at_risk >= COUNT_CAP else str(self.at_risk)


def queue_unassigned(*, limit: int = 200, at_risk_minutes: int = 30) -> QueueBoard:
    """Unassigned open cases, most urgent first then earliest deadline (index case_queue_idx).
    Two queries: the page, and the overdue/at-risk totals."""
    now = timezone.now()
    base = Case.objects.open().filter(assignee__isnull=True)
    rows = list(
        base.select_related("subscriber", "category").order_by(
            "-priority", F("due_at").asc(nulls_last=True), "created_at", "id"
        )[: limit + 1]
    )
    soon = now + timedelta(minutes=at_risk_minutes)
    # Capped counts: the board says "1000+" rather than count a backlog of millions.
    capped = {
        name: Subquery(base.filter(cond).order_by().values("id")[:COUNT_CAP])
        for name, cond in (
            ("overdue", Q(due_at__lt=now)),
            ("at_risk", Q(due_at__gte=now, due_at__lt=soon)),
        )
    }
    totals = {name: Case.objects.filter(pk__in=sub).count() for name, sub in capped.items()}
    return QueueBoard(
        rows=[_queue_row(case, now=now, soon=soon) for case in rows[:limit]],
        has_more=len(rows) > limit,
        overdue=totals["overdue"],
        at_risk=totals["at_risk"],
    )


def _queue_row(case: Case, *, now: datetime, soon: datetime) -> QueueRow:
    overdue = case.due_at is not None and case.due_at < now
    at_risk = not overdue and case.due_at is not None and case.due_at < soon
    return QueueRow(case=case, is_overdue=overdue, is_at_risk=at_risk)


@dataclass(frozen=True)
class StaffLoad:
    user: Any
    open_cases: int
    oldest_due: datetime | None
    profile: StaffProfile  # no row yet means the defaults: available, default cap
    away_until: datetime | None = None  # on a break or a planned absence until then
    away_kind: str = ""

    @property
    def is_present(self) -> bool:
        """On shift and not away right now: what auto-assignment gives cases to."""
        return self.profile.is_available and self.away_until is None

    @property
    def is_full(self) -> bool:
        return self.open_cases >= self.profile.max_open_cases


def current_absence(*, user: Any) -> Absence | None:
    """The absence `user` is on right now (the longest, if windows overlap)."""
    now = timezone.now()
    return Absence.objects.current(now).filter(user=user).order_by("-ends_at").first()


STAFF_PAGE_SIZE = 50


class StaffShow(TextChoices):
    """Which specialists the supervisor's staff table shows (cases.forms.StaffFilterForm)."""

    ALL = "", _("всех")
    PRESENT = "present", _("на смене")
    AWAY = "away", _("отсутствуют")
    FULL = "full", _("полная загрузка")


@dataclass(frozen=True)
class StaffPage:
    """A page of the staff table and the whole center's figures above it."""

    rows: list[StaffLoad]
    number: int
    pages: int
    found: int  # the specialists the filter shows, over all pages
    total: int  # the center's specialists
    present: int
    full: int

    @property
    def away(self) -> int:
        return self.total - self.present

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None


def _staff_with_load() -> Any:
    """Every active specialist with open cases, oldest deadline, profile and absence."""
    # Per person, two correlated counts over the partial index of open assigned cases
    # (case_open_load_idx: assignee, due_at): index-only scans of that person's open cases.
    # A join with every open case read them all from the heap (390 ms at 64,000 open cases).
    now = timezone.now()
    away = Absence.objects.current(now).filter(user=OuterRef("pk")).order_by("-ends_at")
    mine = Case.objects.filter(assignee=OuterRef("pk"), status__in=OPEN_STATUSES).values("assignee")
    return (
        get_user_model()
        .objects.filter(groups__name=Role.SPECIALIST, is_active=True)
        .select_related("staff_profile")
        .annotate(
            open_cases=Coalesce(Subquery(mine.annotate(n=Count("*")).values("n")), 0),
            oldest_due=Subquery(mine.annotate(d=Min("due_at")).values("d")),
            away_until=Subquery(away.values("ends_at")[:1]),
            away_kind=Subquery(away.values("kind")[:1]),
        )
        .order_by("last_name", "first_name", "username")
    )


def _staff_rows(users: Any) -> list[StaffLoad]:
    return [
        StaffLoad(
            user=user,
            open_cases=user.open_cases,
            oldest_due=user.oldest_due,
            profile=getattr(user, "staff_profile", None) or StaffProfile(user=user),
            away_until=user.away_until,
            away_kind=user.away_kind or "",
        )
        for user in users
    ]


def staff_load() -> list[StaffLoad]:
    """Every active specialist with its load: one query (the assignment's choice of whom)."""
    return _staff_rows(_staff_with_load())


def staff_page(*, search: str = "", show: str = "", page: int = 1) -> StaffPage:
    """A page of STAFF_PAGE_SIZE specialists with their load, found by name and state, and the
    center's counts: two queries, whatever the center's size. A center of 3,000 people made
    a table of 3,000 rows that no supervisor reads (0.4 s a rendering)."""
    # StaffLoad.is_present and .is_full in SQL, with a missing profile's defaults.
    default_cap = StaffProfile._meta.get_field("max_open_cases").get_default()
    present = Q(available=True, away_until__isnull=True)
    users = _staff_with_load().annotate(
        available=Coalesce("staff_profile__is_available", Value(True)),
        cap=Coalesce("staff_profile__max_open_cases", Value(default_cap)),
    )
    states: dict[str, Q] = {
        StaffShow.ALL: Q(),
        StaffShow.PRESENT: present,
        StaffShow.AWAY: ~present,
        StaffShow.FULL: Q(open_cases__gte=F("cap")),
    }
    shown = states[show]
    if search.strip():
        shown &= Q(name__contains=search.strip().lower())
        users = users.annotate(
            name=Fold(Concat("username", Value(" "), "first_name", Value(" "), "last_name"))
        )
    figures = users.order_by().aggregate(
        total=Count("pk"),
        found=Count("pk", filter=shown),
        present=Count("pk", filter=present),
        full=Count("pk", filter=states[StaffShow.FULL]),
    )
    pages = max(1, -(-figures["found"] // STAFF_PAGE_SIZE))
    number = min(max(page, 1), pages)
    start = (number - 1) * STAFF_PAGE_SIZE
    return StaffPage(
        rows=_staff_rows(users.filter(shown)[start : start + STAFF_PAGE_SIZE]),
        number=number,
        pages=pages,
        found=figures["found"],
        total=figures["total"],
        present=figures["present"],
        full=figures["full"],
    )
