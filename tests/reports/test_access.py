"""Who may see reports and exports: managers and supervisors; nobody else."""

from __future__ import annotations

import pytest
from django.urls import reverse
from knox.models import AuthToken

PAGES = [
    ("reports:page", {}),
    ("reports:export_cases_csv", {}),
    ("reports:export_table_csv", {"table": "by_category"}),
]
API = ["reports_api:all", "reports_api:summary", "reports_api:by_day", "reports_api:specialists"]


@pytest.mark.parametrize("name,kwargs", PAGES)
@pytest.mark.parametrize("who", ["specialist", "integration", "nobody"])
def test_it_refuses_the_reports_pages_to_other_roles(client, db, request, who, name, kwargs):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse(name, kwargs=kwargs)).status_code == 403


def test_it_refuses_to_queue_an_xlsx_export_for_a_specialist(client, specialist):
    client.force_login(specialist)
    response = client.post(reverse("reports:export_xlsx"), {"columns": ["number"]})
    assert response.status_code == 403


@pytest.mark.parametrize("name,kwargs", PAGES)
def test_it_sends_anonymous_visitors_to_the_login_page(client, db, name, kwargs):
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("who", ["manager", "supervisor"])
def test_it_shows_the_reports_page_to_managers_and_supervisors(client, db, request, who):
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse("reports:page"))
    assert response.status_code == 200
    assert "Обращения по дням и каналам" in response.content.decode()


@pytest.mark.parametrize("name", API)
def test_the_api_answers_401_without_credentials(client, db, name):
    assert client.get(reverse(name)).status_code == 401


@pytest.mark.parametrize("name", API)
@pytest.mark.parametrize("who", ["specialist", "integration"])
def test_the_api_refuses_other_roles_with_403(client, db, request, who, name):
    _, token = AuthToken.objects.create(request.getfixturevalue(who))
    response = client.get(reverse(name), HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 403


def test_the_api_accepts_a_manager_token(client, manager):
    _, token = AuthToken.objects.create(manager)
    response = client.get(reverse("reports_api:summary"), HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert response.json()["summary"]["total"] == 0


def test_someone_elses_export_is_not_found(client, manager, supervisor):
    from reports.models import ExportJob

    job = ExportJob.objects.create(owner=supervisor, format="xlsx", state="done", file_path="x")
    client.force_login(manager)
    assert client.get(reverse("reports:job", args=[job.pk])).status_code == 404
    assert client.get(reverse("reports:download", args=[job.pk])).status_code == 404


def test_bad_filters_on_the_page_are_explained_in_russian(client, manager):
    client.force_login(manager)
    response = client.get(
        reverse("reports:page"),
        {"period": "custom", "date_from": "2026-03-31", "date_to": "2026-03-01", "channel": "fax"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Конец периода раньше начала." in html
    assert "Выберите корректный вариант" in html  # the channel
    assert "Обращения по дням и каналам" not in html  # no figures for a bad filter


def test_the_reports_header_names_the_channel_in_russian(client, manager):
    """Was the raw code «chat»."""
    client.force_login(manager)
    html = client.get(reverse("reports:page"), {"channel": "chat"}).content.decode()
    header = html[html.index('<h2 class="period">') :][:400]
    assert "Чат в приложении" in header and ", chat" not in header
