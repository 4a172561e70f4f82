"""Reads for the review page, the feed, the waves and the figures: each a bounded query on
its own index, whatever the number of cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.utils import timezone

from cases.models import CaseIdentifier, ScammerIdentifier

from .models import FeedEntry, IdentifierDecision, Wave

V = ScammerIdentifier.Verdict
REVIEW_LIMIT = 50


def _with_case_count(queryset: QuerySet[ScammerIdentifier]) -> QuerySet[ScammerIdentifier]:
    reported = (
        CaseIdentifier.objects.filter(identifier=OuterRef("pk"))
        .values("identifier")
        .annotate(n=Count("*"))
        .values("n")
    )
    return queryset.annotate(case_count=Subquery(reported, output_field=IntegerField()))


def review_candidates(*, kind: str = "") -> list[ScammerIdentifier]:
    """Identifiers enough subscribers reported, waiting for a decision, most reported first
    (the partial index identifier_candidate_idx; one query)."""
    queryset = ScammerIdentifier.objects.filter(candidate_since__isnull=False, verdict=V.NONE)
    if kind:
        queryset = queryset.filter(kind=kind)
    return list(
        _with_case_count(queryset.order_by("-reporters", "-candidate_since"))[:REVIEW_LIMIT]
    )


def decided(*, kind: str = "") -> list[ScammerIdentifier]:
    """The latest decisions' identifiers, each with who decided (one query)."""
    queryset = ScammerIdentifier.objects.filter(
        verdict__in=[V.CONFIRMED, V.REJECTED]
    ).select_related("verdict_by")
    if kind:
        queryset = queryset.filter(kind=kind)
    return list(_with_case_count(queryset.order_by("-verdict_at", "-pk"))[:REVIEW_LIMIT])


def identifier_history(*, identifier_ids: list[int]) -> dict[int, list[IdentifierDecision]]:
    rows = IdentifierDecision.objects.filter(identifier_id__in=identifier_ids).select_related(
        "actor"
    )
    history: dict[int, list[IdentifierDecision]] = {}
    for row in rows:
        history.setdefault(row.identifier_id, []).append(row)
    return history


def confirmed_rows():
    """The current list for people (CSV): every confirmed identifier, streamed."""
    return (
        ScammerIdentifier.objects.filter(verdict=V.CONFIRMED)
        .order_by("kind", "value")
        .values_list("kind", "display", "value", "reporters", "first_seen_at", "verdict_at")
        .iterator(chunk_size=2000)
    )


def feed_page(*, after: int, limit: int) -> list[FeedEntry]:
    """Changes after the cursor, in order (the primary key's range: one index scan)."""
    return list(FeedEntry.objects.filter(pk__gt=after).order_by("pk")[:limit])


def current_waves(*, now: datetime | None = None) -> list[Wave]:
    """Waves still rising (a report within the window) and those of the last day."""
    now = now or timezone.now()
    since = now - timedelta(days=1)
    return list(
        Wave.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=since), last_at__gte=since)
        .select_related("identifier", "category")
        .order_by("-last_at")[:20]
    )


def wave_is_active(wave: Wave, now: datetime) -> bool:
    return wave.ended_at is None and wave.last_at > now - timedelta(
        minutes=settings.WAVE_WINDOW_MINUTES
    )


@dataclass
class IntelFigures:
    top: list[tuple[str, list[ScammerIdentifier]]]  # per kind label, most reported first
    candidates: int
    by_kind: list[tuple[str, str, int, int]]  # kind, label, confirmed, rejected
    median_hours_to_confirm: float | None
    confirmed_in_period: int


def intel_figures(*, since: datetime) -> IntelFigures:
    """Confirmed vs rejected by kind (decided identifiers only, by the verdict index), the
    candidates waiting, and the median time from first report to confirmation of those
    confirmed since `since` (two), the most reported of each kind. Four queries and one per kind
    (six kinds), each a bounded scan of that kind (identifier_kind_reporters_idx)."""
    counts = (
        ScammerIdentifier.objects.filter(verdict__in=[V.CONFIRMED, V.REJECTED])
        .values("kind", "verdict")
        .annotate(n=Count("*"))
    )
    table: dict[str, dict[str, int]] = {}
    for row in counts:
        table.setdefault(row["kind"], {})[row["verdict"]] = row["n"]
    labels = dict(ScammerIdentifier.Kind.choices)
    by_kind = [
        (kind, str(labels[kind]), table.get(kind, {}).get(V.CONFIRMED, 0),
         table.get(kind, {}).get(V.REJECTED, 0))
        for kind in ScammerIdentifier.Kind.values
    ]  # fmt: skip
    candidates = ScammerIdentifier.objects.filter(
        candidate_since__isnull=False, verdict=V.NONE
    ).count()
    # The median in the database (count, then the middle one or two by the index of the
    # sort): fetching every confirmation to take it in Python cost 110 ms at 15,000.
    confirmed = ScammerIdentifier.objects.filter(verdict=V.CONFIRMED, verdict_at__gte=since)
    n = confirmed.count()
    median_hours = None
    if n:
        spans = list(
            confirmed.annotate(
                span=ExpressionWrapper(
                    F("verdict_at") - F("first_seen_at"), output_field=DurationField()
                )
            )
            .order_by("span")
            .values_list("span", flat=True)[(n - 1) // 2 : n // 2 + 1]
        )
        median_hours = round(sum(x.total_seconds() for x in spans) / len(spans) / 3600, 1)
    top = [
        (str(labels[kind]), list(ScammerIdentifier.objects.filter(kind=kind, reporters__gt=0)
                                 .order_by("-reporters", "pk")[:5]))
        for kind in ScammerIdentifier.Kind.values
    ]  # fmt: skip
    return IntelFigures(
        top=[(label, rows) for label, rows in top if rows],
        candidates=candidates,
        by_kind=by_kind,
        median_hours_to_confirm=median_hours,
        confirmed_in_period=n,
    )
