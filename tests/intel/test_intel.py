"""Scammer intelligence: candidates and waves against a straightforward count on the same
data, supervisors' decisions (audited, reversible), the feed (API and signed push), the
review page."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseIdentifier, ScammerIdentifier
from cases.roles import Role
from cases.services import case_add_identifier
from deliveries.models import Delivery
from deliveries.services import delivery_send
from intel.models import FeedEntry, IdentifierDecision, Sighting, Wave
from intel.services import (
    DecisionConflict,
    identifier_decide,
    identifiers_recount,
    sight,
    waves_detect,
)
from tests.api.conftest import token_client
from tests.chat_server import SECRET

pytestmark = pytest.mark.django_db
V = ScammerIdentifier.Verdict


@pytest.fixture
def blocking(db) -> User:
    user = User.objects.create_user("antifraud-feed")
    user.groups.add(Group.objects.get(name=Role.BLOCKING))
    return user


def _report(make_case, specialist, value: str, phone: str, kind: str = "phone"):
    case = make_case(phone=phone)
    return case_add_identifier(case=case, kind=kind, value=value, actor=specialist)


# --- Candidates -------------------------------------------------------------------------------


def test_an_identifier_becomes_a_candidate_when_enough_distinct_subscribers_report_it(
    make_case, specialist, settings
):
    settings.INTEL_CANDIDATE_MIN_SUBSCRIBERS = 3
    for phone in ["+79161110001", "+79161110002", "+79161110002"]:  # one subscriber twice
        identifier = _report(make_case, specialist, "+7 495 000-11-22", phone)
    identifier.refresh_from_db()
    assert identifier.reporters == 2 and identifier.candidate_since is None
    identifier = _report(make_case, specialist, "84950001122", "+79161110003")
    identifier.refresh_from_db()
    assert identifier.reporters == 3 and identifier.candidate_since is not None


def test_reporters_match_a_straightforward_count(make_case, specialist, settings):
    settings.INTEL_CANDIDATE_MIN_SUBSCRIBERS = 4
    rng = random.Random(16)
    numbers = [f"+7495000{n:04d}" for n in range(5)]
    for _ in range(40):
        _report(make_case, specialist, rng.choice(numbers), f"+7916222{rng.randrange(12):04d}")
    for identifier in ScammerIdentifier.objects.all():
        links = CaseIdentifier.objects.filter(identifier=identifier).select_related("case")
        naive = len({link.case.subscriber_id for link in links})
        assert identifier.reporters == naive
        assert (identifier.candidate_since is not None) == (naive >= 4)
    # After a bulk load that bypassed the counting: the recount gives the same figures.
    before = list(ScammerIdentifier.objects.order_by("pk").values_list("pk", "reporters"))
    ScammerIdentifier.objects.update(reporters=0, candidate_since=None)
    identifiers_recount()
    assert list(ScammerIdentifier.objects.order_by("pk").values_list("pk", "reporters")) == before
    assert all(
        (i.candidate_since is not None) == (i.reporters >= 4)
        for i in ScammerIdentifier.objects.all()
    )


# --- Waves ------------------------------------------------------------------------------------


def _naive_waves(events, settings) -> set[str]:
    """For every event, the distinct subscribers of its key in the window before it and the
    rate of the baseline days: the keys for which a wave condition ever held."""
    window = timedelta(minutes=settings.WAVE_WINDOW_MINUTES)
    baseline = timedelta(days=settings.WAVE_BASELINE_DAYS)
    keys = set()
    for key, _subscriber, at in events:
        recent = {s for k, s, t in events if k == key and at - window < t <= at}
        past = [t for k, _s, t in events if k == key and at - window - baseline < t <= at - window]
        usual = len(past) / (settings.WAVE_BASELINE_DAYS * 24)
        if (
            len(recent) >= settings.WAVE_MIN_SUBSCRIBERS
            and len(recent) >= settings.WAVE_RATE_FACTOR * usual
        ):
            keys.add(key)
    return keys


@pytest.mark.parametrize("seed", range(4))
def test_waves_match_a_straightforward_count(settings, seed):
    settings.WAVE_MIN_SUBSCRIBERS, settings.WAVE_RATE_FACTOR = 5, 3.0
    rng = random.Random(seed)
    start = timezone.now() - timedelta(days=3)
    events = []
    for key in ["category:1", "category:2", "identifier:7", "identifier:8"]:
        at = start
        steady = rng.choice([5, 20, 60])  # minutes between reports, usually
        while at < start + timedelta(days=3):
            at += timedelta(minutes=rng.expovariate(1 / steady))
            events.append((key, rng.randrange(200), at))
        if rng.random() < 0.6:  # a surge: many subscribers within minutes
            surge = start + timedelta(days=2, hours=rng.randrange(20))
            events += [(key, 1000 + n, surge + timedelta(minutes=n * 2)) for n in range(8)]
    events.sort(key=lambda e: e[2])
    for n, (key, subscriber, at) in enumerate(events):
        sight(key, subscriber, n, at)
        # The count as beat would run it right after this report, for the keys just reported.
        waves_detect(now=at, since=at - timedelta(microseconds=1))
    assert set(Wave.objects.values_list("key", flat=True)) == _naive_waves(events, settings)


def test_the_count_finds_the_keys_reported_since_its_last_run_and_no_other(settings, category):
    settings.WAVE_DETECT_SECONDS = 60
    now, key = timezone.now(), f"category:{category.pk}"
    for n in range(6):  # a surge on one key, ten minutes ago
        sight(key, 100 + n, n, now - timedelta(minutes=10, seconds=-n))
    assert waves_detect(now=now) == 0  # not reported in the last five minutes: not counted
    sight(key, 200, 99, now - timedelta(seconds=30))
    sight("category:999999", 300, 98, now - timedelta(seconds=20))  # one report: no wave
    assert waves_detect(now=now) == 1
    wave = Wave.objects.get()
    assert (wave.key, wave.category_id, wave.subscribers) == (key, category.pk, 7)
    assert wave.last_at == now - timedelta(seconds=30)  # the last report, not the count's time
    assert waves_detect(now=now) == 1 and Wave.objects.count() == 1  # again: the same wave
    for n in range(5):  # a key whose identifier is gone: a wave all the same, without it
        sight("identifier:999999", 400 + n, 50 + n, now - timedelta(seconds=10))
    assert waves_detect(now=now) == 2
    assert Wave.objects.get(key="identifier:999999").identifier_id is None


def test_five_subscribers_within_an_hour_open_a_wave_on_the_queue(
    client, make_case, supervisor, manager, specialist, django_assert_num_queries
):
    for n in range(5):
        make_case(phone=f"+7916333{n:04d}")
    assert not Wave.objects.exists()  # counted by beat, not while the cases open
    waves_detect()
    wave = Wave.objects.get()
    assert wave.key.startswith("category:") and wave.subscribers == 5
    client.force_login(supervisor)
    html = client.get(reverse("intel:waves")).content.decode()
    assert "5 абонентов за час" in html and "сейчас" in html
    client.force_login(manager)
    # session, the user with its roles: the block is rendered once for every viewer in a
    # time zone
    with django_assert_num_queries(2):
        assert client.get(reverse("intel:waves")).content.decode() == html
    client.force_login(specialist)
    assert client.get(reverse("intel:waves")).status_code == 403
    make_case(phone="+79163330001")  # the same subscriber again: the same wave
    waves_detect()
    assert Wave.objects.count() == 1 and Sighting.objects.count() == 6


# --- Decisions and the feed -------------------------------------------------------------------


@pytest.fixture
def candidate(make_case, specialist) -> ScammerIdentifier:
    return _report(make_case, specialist, "+7 495 777-00-11", "+79164440001")


def test_confirm_reject_and_take_back_are_audited_and_fed(candidate, supervisor):
    identifier_decide(identifier=candidate, verdict=V.CONFIRMED, actor=supervisor, seen="")
    identifier_decide(identifier=candidate, verdict=V.CONFIRMED, actor=supervisor)  # again
    identifier_decide(
        identifier=candidate, verdict=V.REJECTED, actor=supervisor, seen=V.CONFIRMED,
        note="Это номер банка",
    )  # fmt: skip
    identifier_decide(identifier=candidate, verdict=V.NONE, actor=supervisor, seen=V.REJECTED)
    history = list(IdentifierDecision.objects.order_by("id").values_list("previous", "verdict"))
    assert history == [("", "confirmed"), ("confirmed", "rejected"), ("rejected", "")]
    assert list(FeedEntry.objects.values_list("action", flat=True)) == ["confirmed", "retracted"]
    candidate.refresh_from_db()
    assert candidate.verdict == "" and candidate.verdict_by is None


def test_a_decision_made_meanwhile_is_not_overwritten(candidate, supervisor):
    identifier_decide(identifier=candidate, verdict=V.REJECTED, actor=supervisor, seen="")
    with pytest.raises(DecisionConflict):
        identifier_decide(identifier=candidate, verdict=V.CONFIRMED, actor=supervisor, seen="")
    assert not FeedEntry.objects.exists()


def test_only_a_supervisor_decides(candidate, specialist, manager):
    for user in (specialist, manager):
        with pytest.raises(PermissionDenied):
            identifier_decide(identifier=candidate, verdict=V.CONFIRMED, actor=user)


def test_the_feed_pages_by_cursor_for_the_blocking_system(
    make_case, specialist, supervisor, blocking
):
    ids = [_report(make_case, specialist, f"+749500{n:05d}", f"+7916555{n:04d}") for n in range(5)]
    for identifier in ids:
        identifier_decide(identifier=identifier, verdict=V.CONFIRMED, actor=supervisor)
    identifier_decide(identifier=ids[0], verdict=V.REJECTED, actor=supervisor)
    api = token_client(blocking)
    first = api.get("/api/v1/feed/identifiers/?page_size=4").json()
    assert [r["action"] for r in first["results"]] == ["confirmed"] * 4
    second = api.get(f"/api/v1/feed/identifiers/?cursor={first['next_cursor']}").json()
    assert [(r["action"], r["value"]) for r in second["results"]] == [
        ("confirmed", "+74950000004"), ("retracted", "+74950000000"),
    ]  # fmt: skip
    third = api.get(f"/api/v1/feed/identifiers/?cursor={second['next_cursor']}").json()
    assert third["results"] == [] and third["next_cursor"] == second["next_cursor"]
    assert api.get("/api/v1/feed/identifiers/?cursor=%%%").status_code == 400
    assert api.get("/api/v1/feed/identifiers/?page_size=0").status_code == 400
    assert api.get("/api/v1/feed/identifiers/?page_size=5&page_size=6").status_code == 400


def test_each_change_is_pushed_signed_to_the_feed_webhook(candidate, supervisor, settings):
    from deliveries.receiver import ChatBackend

    receiver = ChatBackend(SECRET).start()
    try:
        settings.DELIVERY_TARGETS = {"feed": {"URL": receiver.url, "SECRET": SECRET}}
        identifier_decide(identifier=candidate, verdict=V.CONFIRMED, actor=supervisor)
        identifier_decide(identifier=candidate, verdict=V.REJECTED, actor=supervisor)
        for delivery in Delivery.objects.order_by("id"):
            delivery_send(delivery.pk)
        got = [(r.body["type"], r.body["data"]["value"]) for r in receiver.accepted()]
        assert got == [("identifier.confirmed", "+74957770011"),
                       ("identifier.retracted", "+74957770011")]  # fmt: skip
    finally:
        receiver.stop()


# --- The review page --------------------------------------------------------------------------


def test_the_review_page_decides_and_keeps_the_note_on_a_conflict(
    client, make_case, specialist, supervisor, settings
):
    settings.INTEL_CANDIDATE_MIN_SUBSCRIBERS = 1
    identifier = _report(make_case, specialist, "gosuslugi-help.ru", "+79166660001", "link")
    client.force_login(supervisor)
    html = client.get(reverse("intel:review")).content.decode()
    assert f'id="identifier-{identifier.pk}"' in html
    url = reverse("intel:decide", args=[identifier.pk])
    response = client.post(url, {"verdict": "confirmed", "seen": "", "note": "фишинг"})
    assert response.status_code == 302
    stale = client.post(url, {"verdict": "rejected", "seen": "", "note": "банк?"})
    assert stale.status_code == 409 and "банк?" in stale.content.decode()
    csv = b"".join(client.get(reverse("intel:confirmed_csv")).streaming_content).decode()
    assert "gosuslugi-help.ru" in csv
    client.force_login(specialist)
    assert client.get(reverse("intel:review")).status_code == 403


def test_the_review_page_costs_the_same_queries_however_many_candidates(
    client, make_case, specialist, supervisor, settings, django_assert_num_queries
):
    settings.INTEL_CANDIDATE_MIN_SUBSCRIBERS = 1
    client.force_login(supervisor)
    client.get(reverse("intel:review"))
    for n in range(2):
        for i in range(3 * (n + 1)):
            identifier = _report(make_case, specialist, f"+7495{n}{i:06d}", f"+7916777{n}{i:03d}")
            if i % 2:
                identifier_decide(identifier=identifier, verdict=V.CONFIRMED, actor=supervisor)
        # 1 session, 2 the user with its roles and permissions (cases.roles), 3 candidates
        # with case counts, 4 the decided with who decided, 5 their histories, 6 figures by
        # kind, 7 candidates waiting, 8-9 confirmations in the period and their median,
        # 10-15 the most reported of each of the six kinds.
        with django_assert_num_queries(15):
            assert client.get(reverse("intel:review")).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_cases_of_one_scheme_opened_at_once_make_one_wave_and_no_error(category, integration):
    """Intake under load: cases of one category at the same moment, each in its own
    transaction, and two counts of the waves at once: no error, one wave."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from cases.services import case_open

    for role in Role:
        Group.objects.get_or_create(name=role)
    barrier = __import__("threading").Barrier(8)

    def open_one(n: int) -> int:
        try:
            barrier.wait(10)
            return case_open(
                actor=integration, channel="hotline", category=category,
                phone=f"+7916999{n:04d}", summary="Звонили из «банка»",
            ).pk  # fmt: skip
        finally:
            connection.close()

    def count() -> int:
        try:
            barrier.wait(10)
            return waves_detect()
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(open_one, range(8)))
        barrier = __import__("threading").Barrier(2)
        ids += list(pool.map(open_one, [8, 9]))
        assert len(set(ids)) == 10 and Sighting.objects.count() == 10
        # Two counts at once (a slow beat tick overlapping the next): one wave, no error.
        barrier = __import__("threading").Barrier(2)
        assert list(pool.map(lambda _n: count(), range(2))) == [1, 1]
    wave = Wave.objects.get()
    assert wave.subscribers == 10


@pytest.mark.parametrize("count", [1, 4, 5])
def test_the_median_time_to_confirmation_matches_a_straightforward_one(
    make_case, specialist, supervisor, count
):
    import statistics

    from intel.selectors import intel_figures

    now = timezone.now()
    hours = [3, 30, 7, 12, 100][:count]
    for n, h in enumerate(hours):
        identifier = _report(make_case, specialist, f"+749511{n:05d}", f"+7916123{n:04d}")
        ScammerIdentifier.objects.filter(pk=identifier.pk).update(
            first_seen_at=now - timedelta(hours=h)
        )
        identifier_decide(identifier=identifier, verdict=V.CONFIRMED, actor=supervisor)
    figures = intel_figures(since=now - timedelta(days=1))
    assert figures.confirmed_in_period == count
    assert figures.median_hours_to_confirm == pytest.approx(statistics.median(hours), abs=0.1)
