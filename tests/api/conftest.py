from __future__ import annotations

import pytest
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The fixtures' users get passwords; PBKDF2 would dominate these tests' run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Throttle counters live in the cache, keyed by user id: ids repeat across tests.
    cache.clear()
    yield
    cache.clear()


def token_client(user) -> APIClient:
    _instance, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def api(integration) -> APIClient:
    """The telephony line: an integration account with its token."""
    return token_client(integration)


@pytest.fixture
def chat_backend(db) -> APIClient:
    from tests.conftest import _user

    return token_client(_user("chat-backend", "integration"))


@pytest.fixture
def staff_api():
    """A session-authenticated client for a staff user (as the staff UI would be)."""

    def make(user) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def open_body(category):
    def make(**overrides):
        body = {
            "channel": "hotline",
            "phone": "8 916 123-45-67",
            "category": category.slug,
            "summary": "Звонили из «службы безопасности банка»",
            "description": "Просили назвать код из SMS",
            "external_id": "call-0001",
            "code_disclosed": True,
        }
        body.update(overrides)
        return body

    return make


@pytest.fixture
def role_groups(transactional_db):
    """Transactional tests flush the tables, and with them the groups a data migration made."""
    from django.contrib.auth.models import Group

    from cases.roles import Role

    for role in Role:
        Group.objects.get_or_create(name=role)
