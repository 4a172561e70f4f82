"""Reads shared by the staff pages and the API. Each runs a fixed number of queries,
whatever the data size; counts are annotated, never computed per row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Case as SqlCase
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, Subquery, Value, When
from django.utils import timezone

from playbooks.models import Step

from .models import (
    OPEN_STATUSES,
    Case,
    CaseEvent,
    CaseIdentifier,
    ScammerIdentifier,
    StepOutcome,
    Subscriber,
)
from .services import normalize_msisdn


@dataclass
class SubscriberHistory:
    subscriber: Subscriber
    open_cases: list[Case] = field(default_factory=list)
    recent_cases: list[Case] = field(default_factory=list)
    total_cases: int = 0
    cases_in_repeat_window: int = 0

    @property
    def is_repeat_victim(self) -> bool:
        """They came back: more than one case, ever."""
        return self.total_cases > 1


def subscriber_find(*, phone: str) -> Subscriber | None:
    """Find by any common format; a malformed number raises ValidationError."""
    return Subscriber.objects.filter(msisdn=normalize_msisdn(phone)).first()


def subscriber_history(*, subscriber: Subscriber, recent: int = 10) -> SubscriberHistory:
    """The subscriber card: open cases first, then the latest ones. Two queries."""
    now = timezone.now()
    window = now - timedelta(days=settings.REPEAT_VICTIM_DAYS)
    counts = Case.objects.filter(subscriber=subscriber).aggregate(
        total=Count("id"), in_window=Count("id", filter=Q(created_at__gte=window))
    )
    open_rank = SqlCase(
        When(status__in=OPEN_STATUSES, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    rows = list(
        Case.objects.filter(subscriber=subscriber)
        .select_related("category", "assignee")
        .annotate(open_rank=open_rank)
        .order_by("open_rank", "-created_at", "-id")[: recent + 20]
    )
    history = SubscriberHistory(
        subscriber=subscriber,
        total_cases=counts["total"],
        cases_in_repeat_window=counts["in_window"],
    )
    history.open_cases = [c for c in rows if c.status in OPEN_STATUSES]
    history.recent_cases = sorted(rows, key=lambda c: (c.created_at, c.pk), reverse=True)[:recent]
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


def case_get_detail(*, case_id: int) -> Case:
    """A case with everything its page shows, in a fixed number of queries.

    Raises Case.DoesNotExist."""
    return (
        Case.objects.select_related(
            "subscriber", "category", "assignee", "created_by", "playbook_version__playbook"
        )
        .prefetch_related(
            Prefetch("events", queryset=CaseEvent.objects.select_related("actor")),
            Prefetch("step_outcomes", queryset=StepOutcome.objects.select_related("actor")),
            "messages",
        )
        .get(pk=case_id)
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
    steps = Step.objects.filter(version_id=case.playbook_version_id).order_by("position")
    return [StepRow(step=s, outcome=outcomes.get(s.pk)) for s in steps]
