import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _django_check(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "PRODUCTION"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "fraudcenter.settings"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_production_refuses_debug_on():
    res = _django_check({"PRODUCTION": "1", "DEBUG": "1", "SECRET_KEY": "x" * 50})
    assert res.returncode != 0 and "DEBUG must be off" in res.stderr


def test_production_refuses_the_default_secret_key():
    res = _django_check({"PRODUCTION": "1", "ALLOWED_HOSTS": "fc.example"})
    assert res.returncode != 0 and "SECRET_KEY" in res.stderr


def test_production_starts_with_safe_settings():
    res = _django_check({"PRODUCTION": "1", "SECRET_KEY": "k" * 50, "ALLOWED_HOSTS": "fc.example"})
    assert res.returncode == 0, res.stderr


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    res = client.get("/healthz")
    assert res.status_code == 200, res.content
    assert res.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    res = client.get("/healthz")
    assert res.status_code == 503
    assert res.json()["broker"] == "error" and res.json()["database"] == "ok"


PRODUCTION_ENV = {
    "PRODUCTION": "1",
    "SECRET_KEY": "p" * 30 + "-production-only-secret-0123456789",
    "ALLOWED_HOSTS": "fraud.example.internal",
}


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings():
    # DJANGO_ALLOW_ASYNC_UNSAFE is the browser tests' (live server + sync playwright), not prod's.
    dropped = {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    res = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env={**env, **PRODUCTION_ENV}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.slow
def test_the_shipped_gunicorn_config_loads_the_app():
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    res = subprocess.run(
        [gunicorn, "--check-config", "-c", "deploy/gunicorn.conf.py", "fraudcenter.wsgi"],
        cwd=ROOT, env={**env, **PRODUCTION_ENV}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr


def test_pages_and_api_answers_are_never_cached(client, specialist, make_case):
    case = make_case()
    client.force_login(specialist)
    for url in (f"/cases/{case.pk}/", "/cases/", f"/api/v1/cases/{case.pk}/"):
        response = client.get(url)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"], url


@pytest.mark.parametrize(
    ("url", "expect"),
    [("/cases/{pk}/", "Введённые данные не сохранены"), ("/api/v1/cases/{pk}/", '"detail"')],
)
def test_a_server_error_is_the_russian_page_or_json_on_the_api(
    client, supervisor, make_case, monkeypatch, url, expect
):
    """What a user sees when something breaks: never Django's English page, JSON on /api/."""
    case = make_case()

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("cases.views.access_case", broken)
    monkeypatch.setattr("cases.api.access_case", broken)
    client.raise_request_exception = False
    client.force_login(supervisor)
    response = client.get(url.format(pk=case.pk))
    assert response.status_code == 500
    assert expect in response.content.decode()
