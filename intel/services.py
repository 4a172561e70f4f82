"""Scammer intelligence as cases arrive: counting who reported what (candidates), waves of
one scheme, supervisors' decisions and the feed for the blocking systems.

Incremental: each new case or identifier link costs a few indexed queries on that one key
(its recent links) and records a sighting; the waves are counted from the sightings once a
minute for the keys reported since (waves_detect); nothing scans all cases."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, IntegerField, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case, CaseIdentifier, ScammerIdentifier
from deliveries.services import delivery_enqueue, target_enabled
from playbooks.models import Category

from .access import require_review
from .models import FeedEntry, IdentifierDecision, Sighting, Wave

logger = logging.getLogger(__name__)
V = ScammerIdentifier.Verdict
FEED_TARGET = "feed"  # settings.DELIVERY_TARGETS


class DecisionConflict(Exception):
    """Someone decided on the identifier since the person looked at it."""


# --- Reports as they arrive -------------------------------------------------------------------


def identifier_reported(*, link: CaseIdentifier, subscriber_id: int) -> None:
    """A case got an identifier: recount its distinct reporters within the window (its own
    recent links, by index), make it a candidate when enough, and count it for waves."""
    now = link.created_at
    since = now - timedelta(days=settings.INTEL_CANDIDATE_WINDOW_DAYS)
    reporters = (
        CaseIdentifier.objects.filter(identifier_id=link.identifier_id, created_at__gte=since)
        .values("case__subscriber_id")
        .distinct()
        .count()
    )
    fields: dict = {"reporters": reporters, "last_reported_at": now}
    if reporters >= settings.INTEL_CANDIDATE_MIN_SUBSCRIBERS:
        # A candidate since the first time it had enough reporters: kept once set.
        fields["candidate_since"] = Coalesce(F("candidate_since"), Value(now))
    ScammerIdentifier.objects.filter(pk=link.identifier_id).update(**fields)
    sight(f"identifier:{link.identifier_id}", subscriber_id, link.case_id, now)


def case_reported(*, case: Case) -> None:
    """A new case: one more victim of its category's scheme, for the waves."""
    sight(f"category:{case.category_id}", case.subscriber_id, case.pk, case.created_at)


def sight(key: str, subscriber_id: int, case_id: int, now: datetime) -> None:
    """Record one report. The waves are counted from these once a minute for every key
    reported since (waves_detect), not in the request that opens the case: one INSERT here
    instead of four queries whose cost grew with the key's reports in the window."""
    Sighting.objects.create(key=key, subscriber_id=subscriber_id, case_id=case_id, seen_at=now)


def waves_detect(*, now: datetime | None = None, since: datetime | None = None) -> int:
    """Open or grow the wave of every key reported since `since` (default: the last two
    WAVE_DETECT_SECONDS, at least five minutes, so that a missed tick, a late commit or a
    worker started just after `make seed` loses nothing) for which it
    holds now: at least WAVE_MIN_SUBSCRIBERS distinct subscribers within the window, and
    WAVE_RATE_FACTOR times the usual hourly rate of the baseline days before it. One grouped
    query for all those keys (by the key and time index), then a write per key in a wave.
    Returns the number of keys in a wave."""
    now = now or timezone.now()
    since = since or now - timedelta(seconds=max(2 * settings.WAVE_DETECT_SECONDS, 300))
    window = now - timedelta(minutes=settings.WAVE_WINDOW_MINUTES)
    start = window - timedelta(days=settings.WAVE_BASELINE_DAYS)
    reported = Sighting.objects.filter(seen_at__gt=since, seen_at__lte=now).values("key")
    rows = (
        Sighting.objects.filter(key__in=reported, seen_at__gt=start, seen_at__lte=now)
        .values("key")
        .annotate(
            recent=Count("subscriber_id", distinct=True, filter=Q(seen_at__gt=window)),
            past=Count("pk", filter=Q(seen_at__lte=window)),
            last=Max("seen_at"),
        )
        .order_by("key")  # the same lock order in two overlapping runs
    )
    waves: list[tuple[str, str, int, int, float, datetime]] = []
    for row in rows:
        recent, usual = row["recent"], row["past"] / (settings.WAVE_BASELINE_DAYS * 24)
        if recent >= settings.WAVE_MIN_SUBSCRIBERS and recent >= settings.WAVE_RATE_FACTOR * usual:
            kind, _sep, pk = row["key"].partition(":")
            waves.append((row["key"], kind, int(pk), recent, usual, row["last"]))
    # What the keys name, if it is still there (a key outlives a deleted identifier).
    there: dict[str, set[int]] = {"category": set(), "identifier": set()}
    for name, model in (("category", Category), ("identifier", ScammerIdentifier)):
        if wanted := [w[2] for w in waves if w[1] == name]:
            there[name] = set(model.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    for key, kind, ref_id, recent, usual, last in waves:
        ref = ref_id if ref_id in there.get(kind, set()) else None
        with transaction.atomic():
            _wave_record(
                key, recent, usual, last,
                identifier_id=ref if kind == "identifier" else None,
                category_id=ref if kind == "category" else None,
            )  # fmt: skip
    return len(waves)


def _wave_record(
    key: str, recent: int, usual: float, at: datetime, *,
    identifier_id: int | None = None, category_id: int | None = None,
) -> None:  # fmt: skip
    """The key is in a wave at `at`: grow its open wave, or open one (ending the earlier
    one if it had died down)."""
    window = at - timedelta(minutes=settings.WAVE_WINDOW_MINUTES)
    # The common case in a surge: the key's wave goes on, and one UPDATE grows it.
    if Wave.objects.filter(key=key, ended_at__isnull=True, last_at__gt=window).update(
        last_at=Greatest("last_at", Value(at)), subscribers=Greatest("subscribers", Value(recent))
    ):
        return
    wave = Wave.objects.select_for_update().filter(key=key, ended_at__isnull=True).first()
    if wave is not None and wave.last_at <= window:  # the earlier surge had died down
        wave.ended_at = wave.last_at
        wave.save(update_fields=["ended_at"])
        wave = None
    if wave is None:
        try:
            # A savepoint: two overlapping runs both see no wave; the second finds the
            # first's (one open wave per key) and grows it instead.
            with transaction.atomic():
                Wave.objects.create(
                    key=key, identifier_id=identifier_id, category_id=category_id,
                    started_at=at, last_at=at, subscribers=recent, usual_per_hour=usual,
                )  # fmt: skip
            logger.warning("wave started: %s, %s subscribers within the window", key, recent)
            return
        except IntegrityError:
            wave = Wave.objects.select_for_update().get(key=key, ended_at__isnull=True)
    wave.last_at = max(wave.last_at, at)
    wave.subscribers = max(wave.subscribers, recent)
    wave.save(update_fields=["last_at", "subscribers"])


# --- Decisions and the feed -------------------------------------------------------------------


@transaction.atomic
def identifier_decide(
    *, identifier: ScammerIdentifier, verdict: str, actor: User, seen: str | None = None,
    note: str = "",
) -> ScammerIdentifier:  # fmt: skip
    """A supervisor confirms an identifier as a scammer's, marks it as not (a bank's real
    number, a marketplace), or takes the decision back (verdict ""). `seen` is the verdict
    the person looked at: if someone decided since, the decision is refused.

    Confirming puts it on the feed; taking a confirmation back retracts it there. The same
    decision twice changes nothing."""
    require_review(actor)
    if verdict not in V.values:
        raise ValidationError({"verdict": _("Неизвестное решение.")})
    note = note.strip()
    if len(note) > 500:
        raise ValidationError({"note": _("Не больше 500 символов.")})
    locked = ScammerIdentifier.objects.select_for_update().get(pk=identifier.pk)
    if locked.verdict == verdict:
        return locked
    if seen is not None and locked.verdict != seen:
        raise DecisionConflict(
            _("Решение уже принял другой сотрудник: %(now)s. Обновите страницу.")
            % {"now": locked.get_verdict_display()}
        )
    previous = locked.verdict
    now = timezone.now()
    locked.verdict, locked.verdict_note = verdict, note
    locked.verdict_at, locked.verdict_by = (now, actor) if verdict else (None, None)
    locked.save(update_fields=["verdict", "verdict_note", "verdict_at", "verdict_by"])
    IdentifierDecision.objects.create(
        identifier=locked, verdict=verdict, previous=previous, note=note, actor=actor
    )
    if verdict == V.CONFIRMED:
        _feed(locked, FeedEntry.Action.CONFIRMED, now)
    elif previous == V.CONFIRMED:
        _feed(locked, FeedEntry.Action.RETRACTED, now)
    return locked


def _feed(identifier: ScammerIdentifier, action: str, now: datetime) -> FeedEntry:
    """The feed row and, when FEED_WEBHOOK_URL is set, its signed push (the outbound
    delivery the chat uses: after commit, retried, in order per identifier)."""
    entry = FeedEntry.objects.create(
        identifier=identifier, action=action, kind=identifier.kind, value=identifier.value,
        display=identifier.display or identifier.value, created_at=now,
    )  # fmt: skip
    if target_enabled(FEED_TARGET):
        delivery_enqueue(
            target=FEED_TARGET,
            event_type=f"identifier.{action}",
            # The identifier's row lock orders its changes; ids follow commit order per key.
            ordering_key=f"identifier:{identifier.pk}",
            data=feed_item(entry),
        )
    return entry


def feed_item(entry: FeedEntry) -> dict:
    """One feed change as the API and the push give it."""
    return {
        "seq": entry.pk,
        "action": entry.action,
        "kind": entry.kind,
        "value": entry.value,
        "display": entry.display,
        "changed_at": entry.created_at,
    }


# --- After a bulk load ------------------------------------------------------------------------


def identifiers_recount(*, now: datetime | None = None) -> int:
    """Reporters and candidates for every identifier from its links, in one statement: for
    data loaded in bulk (COPY, an import) that bypassed the per-report counting."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.INTEL_CANDIDATE_WINDOW_DAYS)
    counts = (
        CaseIdentifier.objects.filter(identifier=OuterRef("pk"), created_at__gte=since)
        .values("identifier")
        .annotate(n=Count("case__subscriber_id", distinct=True))
        .values("n")
    )
    last = (
        CaseIdentifier.objects.filter(identifier=OuterRef("pk"))
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    updated = ScammerIdentifier.objects.update(
        reporters=Coalesce(Subquery(counts, output_field=IntegerField()), 0),
        last_reported_at=Subquery(last),
    )
    ScammerIdentifier.objects.filter(
        candidate_since__isnull=True, reporters__gte=settings.INTEL_CANDIDATE_MIN_SUBSCRIBERS
    ).update(candidate_since=F("last_reported_at"))
    return updated
