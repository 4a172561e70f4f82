"""One rule decides who sees subscribers' numbers and names in full (`cases.view_personal_data`:
specialists, supervisors, integrations, and whoever has the unmasking permission of the
exports); the API, the staff pages and the exports all apply it (issue 20)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from cases.services import case_add_note, case_assign
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db

FULL, MASKED = "+79161000000", "+7 916 ***-**-00"
NAME, MASKED_NAME = "Иван Петров", "И*** П***"
TYPED = "перезвонить на +7 495 765-43-21"


@pytest.fixture
def case(make_case, specialist):
    case = make_case(subscriber_name=NAME, summary=f"Звонили, просили {TYPED}")
    case = case_assign(case=case, assignee=specialist, actor=specialist)
    case_add_note(case=case, actor=specialist, text=TYPED)
    return case


@pytest.fixture
def unmasking_manager(manager):
    manager.user_permissions.add(Permission.objects.get(codename="export_unmasked"))
    return manager


def _api_texts(user, case) -> str:
    client = token_client(user) if user.groups.filter(name="integration").exists() else None
    if client is None:
        client = APIClient()
        client.force_login(user)
    parts = [
        client.get("/api/v1/cases/").content.decode(),
        client.get(f"/api/v1/cases/{case.pk}/").content.decode(),
        client.get("/api/v1/subscribers/lookup/", {"phone": FULL}).content.decode(),
    ]
    return "\n".join(parts)


def _page_texts(client, user, case) -> str:
    client.force_login(user)
    return "\n".join(
        client.get(url).content.decode()
        for url in (reverse("cases:detail", args=[case.pk]), reverse("cases:list"))
    )


@pytest.mark.parametrize(
    ("who", "full"),
    [
        ("specialist", True),
        ("supervisor", True),
        ("integration", True),
        ("unmasking_manager", True),
        ("manager", False),
    ],
)
def test_numbers_names_and_typed_numbers_are_masked_only_for_who_may_not_see_them(
    client, request, case, who, full
):
    user = request.getfixturevalue(who)
    texts = [_api_texts(user, case)]
    if who != "integration":
        texts.append(_page_texts(client, user, case))
    for text in texts:
        if full:
            assert FULL in text and NAME in text and "765-43-21" in text
        else:
            assert FULL not in text and NAME not in text and "765-43-21" not in text
            assert MASKED in text and MASKED_NAME in text and "***21" in text


def test_the_queue_masks_numbers_for_a_manager(client, manager, make_case):
    make_case(summary=f"Звонили, {TYPED}")
    client.force_login(manager)
    html = client.get(reverse("cases:queue")).content.decode()
    assert "+7916" not in html and "765-43-21" not in html and "***-**-" in html
