"""The admin speaks Russian too: third-party apps' names, auditlog's columns, and each user's
role in the user list (was «AUDIT LOG», «Auth tokens», «RESOURCE / ACTION / CHANGES»)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.conftest import _user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.org", "x"))
    return client


def test_the_index_names_the_audit_log_and_the_api_tokens_in_russian(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert "Журнал аудита" in html and "Токены API" in html and "Доступ к API" in html
    for english in ("Audit log", "Auth tokens", "Log entries", "Knox"):
        assert english not in html, english


def test_the_audit_log_columns_are_russian(admin_client, specialist, make_case):
    make_case()
    html = admin_client.get("/admin/auditlog/logentry/").content.decode()
    for title in ("Когда", "Объект", "Действие", "Изменения", "Кто", "Тип объекта"):
        assert title in html, title
    for english in ("Resource", "Changes", "Correlation ID", ">create<"):
        assert english not in html, english


def test_the_user_list_shows_each_persons_role(admin_client, specialist):
    _user("boss-2", "manager")
    html = admin_client.get("/admin/auth/user/").content.decode()
    assert "Роль" in html and "специалист" in html and "руководитель" in html
    assert ">specialist<" not in html  # the role filter is Russian too
    filtered = admin_client.get("/admin/auth/user/", {"role": "manager"}).content.decode()
    assert ">boss-2<" in filtered and f">{specialist.username}<" not in filtered


def test_the_token_pages_are_russian(admin_client, integration):
    from knox.models import AuthToken

    AuthToken.objects.create(user=integration)
    html = admin_client.get("/admin/knox/authtoken/").content.decode()
    assert "токен API" in html and "учётная запись" in html.lower()
