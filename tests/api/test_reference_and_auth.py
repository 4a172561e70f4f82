"""Categories and playbooks; tokens: create_integration, revocation, 401/403; throttling."""

from __future__ import annotations

from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from cases.roles import Role, has_role

pytestmark = pytest.mark.django_db


def test_categories_list_active_ones_with_their_playbook(api, category):
    from playbooks.models import Category

    Category.objects.create(slug="old", name="Старая", is_active=False)
    response = api.get("/api/v1/categories/")
    assert response.status_code == 200
    assert [(c["slug"], c["playbook"]) for c in response.json()] == [("gosuslugi", "gosuslugi")]
    assert api.get("/api/v1/categories/gosuslugi/").status_code == 200
    assert api.get("/api/v1/categories/old/").status_code == 404


def test_playbooks_list_and_the_current_version_with_steps(api, category):
    listing = api.get("/api/v1/playbooks/")
    assert listing.json() == [
        {"slug": "gosuslugi", "title": "Госуслуги", "category": "gosuslugi", "version": 1}
    ]
    detail = api.get("/api/v1/playbooks/gosuslugi/").json()
    assert detail["version"] == 1
    assert [s["position"] for s in detail["steps"]] == [1, 2, 3]
    assert api.get("/api/v1/playbooks/nope/").status_code == 404


def test_reference_data_refusals(client, staff_api, nobody):
    assert client.get("/api/v1/categories/").status_code == 401
    assert staff_api(nobody).get("/api/v1/playbooks/").status_code == 403


def run(*args) -> list[str]:
    out = StringIO()
    call_command("create_integration", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_create_integration_makes_a_service_account_and_prints_the_token_last(db):
    token = run("telephony-611")[-1]
    user = User.objects.get(username="telephony-611")
    assert has_role(user, Role.INTEGRATION)
    assert not user.has_usable_password()
    assert client_with(token).get("/api/v1/categories/").status_code == 200


def test_running_it_again_issues_another_token_and_revoke_kills_them_all(db):
    first = run("chat-backend")[-1]
    second = run("chat-backend")[-1]
    assert first != second
    assert User.objects.filter(username="chat-backend").count() == 1
    assert client_with(first).get("/api/v1/categories/").status_code == 200
    assert "2 token" in run("chat-backend", "--revoke")[-1]
    assert client_with(first).get("/api/v1/categories/").status_code == 401
    assert client_with(second).get("/api/v1/categories/").status_code == 401


def test_it_refuses_to_turn_a_staff_account_into_an_integration(specialist):
    with pytest.raises(CommandError):
        run(specialist.username)
    with pytest.raises(CommandError):
        run("nobody-here", "--revoke")


def test_tokens_are_stored_hashed(db):
    from knox.models import AuthToken

    token = run("telephony-611")[-1]
    stored = AuthToken.objects.get()
    assert token not in (stored.digest, stored.token_key)


@pytest.mark.parametrize("header", ["Token wrong", "Token", "Bearer x", "Basic dXNlcjpwYXNz"])
def test_a_wrong_token_is_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/cases/").status_code == 401


def test_a_deactivated_integration_is_401(api, integration):
    integration.is_active = False
    integration.save()
    assert api.get("/api/v1/categories/").status_code == 401


REDIS_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/9",
        "KEY_PREFIX": "fc-test-throttle",
    }
}


@pytest.fixture(params=["locmem", "redis"])
def throttle_cache(request, settings):
    """The throttle on the process-local cache (development) and on Redis (production)."""
    if request.param == "redis":
        settings.CACHES = REDIS_CACHE
    from django.core.cache import caches

    caches["default"].clear()
    yield request.param
    caches["default"].clear()


def test_an_integration_is_throttled_with_retry_after(
    api, settings, staff_api, supervisor, throttle_cache
):
    settings.API_INTEGRATION_THROTTLE_RATE = "3/min"
    with time_machine.travel("2026-11-25 10:00:20 +0000", tick=False):
        codes = [api.get("/api/v1/categories/").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        response = api.get("/api/v1/categories/")
        assert response.status_code == 429
        assert response["Retry-After"] == "40"  # the window ends at 10:01:00
        # Staff sessions are not counted against it.
        assert all(
            staff_api(supervisor).get("/api/v1/categories/").status_code == 200 for _ in range(5)
        )
    with time_machine.travel("2026-11-25 10:01:00 +0000", tick=False):
        assert api.get("/api/v1/categories/").status_code == 200  # a new window


def test_each_integration_has_its_own_budget(api, chat_backend, settings, throttle_cache):
    settings.API_INTEGRATION_THROTTLE_RATE = "2/min"
    with time_machine.travel("2026-11-25 10:00:20 +0000", tick=False):
        assert [api.get("/api/v1/categories/").status_code for _ in range(3)] == [200, 200, 429]
        assert chat_backend.get("/api/v1/categories/").status_code == 200


def test_the_counter_on_redis_expires_with_its_window(api, settings):
    import redis

    settings.CACHES = REDIS_CACHE
    settings.API_INTEGRATION_THROTTLE_RATE = "5/min"
    client = redis.Redis.from_url("redis://127.0.0.1:6379/9")
    for key in client.scan_iter("fc-test-throttle*"):
        client.delete(key)
    assert api.get("/api/v1/categories/").status_code == 200
    (key,) = list(client.scan_iter("fc-test-throttle*"))
    assert client.get(key) == b"1"
    assert 0 < client.ttl(key) <= 61
    client.delete(key)


def test_the_schema_and_the_offline_docs_page(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/subscribers/lookup/" in paths
    assert "/api/v1/cases/{case_id}/steps/{step_id}/" in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    # Nothing loaded from another host (no CDN): every script and stylesheet is ours.
    assert 'src="http' not in html and 'href="http' not in html
    assert "jsdelivr" not in html and "unpkg" not in html
    from django.contrib.staticfiles import finders

    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_an_expired_token_is_401_and_deleted(db):
    from datetime import timedelta

    from django.utils import timezone
    from knox.models import AuthToken

    token = run("telephony-611")[-1]
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    assert client_with(token).get("/api/v1/categories/").status_code == 401
    assert not AuthToken.objects.exists()


def test_a_token_with_a_wrong_secret_but_a_known_prefix_is_401(db):
    token = run("telephony-611")[-1]
    forged = token[:15] + ("0" if token[15] != "0" else "1") + token[16:]
    assert client_with(forged).get("/api/v1/categories/").status_code == 401


def test_the_token_query_brings_the_roles_and_a_removed_role_is_refused_at_once(
    db, django_assert_num_queries
):
    from django.db import connection

    token = run("telephony-611")[-1]
    client = client_with(token)
    client.get("/api/v1/categories/")  # warm
    # token + user + role names in one query on PostgreSQL (SQLite: groups apart), categories.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 3):
        assert client.get("/api/v1/categories/").status_code == 200
    User.objects.get(username="telephony-611").groups.clear()
    assert client.get("/api/v1/categories/").status_code == 403


def test_guessing_tokens_is_throttled_per_address(db, settings, integration):
    from knox.models import AuthToken
    from rest_framework.test import APIClient

    settings.API_AUTH_FAILURE_RATE = "5/min"
    guesser = APIClient(REMOTE_ADDR="203.0.113.7")
    guesser.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    answers = [guesser.get("/api/v1/cases/").status_code for _ in range(7)]
    assert answers == [401] * 5 + [429] * 2
    assert guesser.get("/api/v1/cases/")["Retry-After"]
    # Another address, with the right token, is not affected.
    _instance, token = AuthToken.objects.create(user=integration)
    other = APIClient(REMOTE_ADDR="198.51.100.9")
    other.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert other.get("/api/v1/cases/").status_code == 200


def test_a_budget_spent_through_another_process_stops_guesses_after_one(db, settings, integration):
    from django.core.cache import cache
    from rest_framework.test import APIClient

    from cases.auth import _failure_key

    settings.API_AUTH_FAILURE_RATE = "5/min"
    guesser = APIClient(REMOTE_ADDR="203.0.113.8")
    guesser.credentials(HTTP_AUTHORIZATION="Token " + "1" * 64)
    first = guesser.get("/api/v1/cases/")
    # Other processes spent the address's budget; this one had not seen it fail yet, so it
    # let one guess through to the token query (above), and reads the budget from now on.
    cache.set(_failure_key(first.wsgi_request), 5, 60)
    assert first.status_code == 401
    assert [guesser.get("/api/v1/cases/").status_code for _ in range(2)] == [429, 429]
