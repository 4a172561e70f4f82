"""The deploy files that docs/deploy.md names: they exist, systemd accepts the units, the
units start the commands the notes describe (the same ones the scale-out run starts, read
by the same code), and the example environment passes `check --deploy`."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from celery.utils.nodenames import host_format

from tests.scale.deploy_files import (
    INSTALL_DIR,
    ROOT,
    UNITS,
    VAR_DIR,
    env_example,
    unit_command,
    unit_directives,
    unit_environment,
)

BIN = Path(sys.executable).parent
DOCS = ROOT / "docs" / "deploy.md"
TESTS = ROOT / "tests"


def _named_files() -> set[str]:
    """Repository paths written in the deploy notes (`deploy/...`, `fraudcenter/...`, ...)."""
    text = DOCS.read_text()
    return set(re.findall(r"(?<![\w/])((?:deploy|fraudcenter|tests|docs)/[\w.@/-]*\w)", text))


def test_every_file_the_deploy_notes_name_exists_and_a_test_uses_it():
    named = _named_files()
    assert {"deploy/gunicorn.conf.py", "deploy/fraudcenter.env.example"} <= named
    test_sources = "\n".join(
        p.read_text() for p in TESTS.rglob("*.py") if p.resolve() != Path(__file__).resolve()
    )
    for path in sorted(named):
        assert (ROOT / path).exists(), f"docs/deploy.md names {path}, which does not exist"
        if path.startswith("tests/"):
            continue
        module = path.removesuffix(".py").replace("/", ".")
        mentioned = (path, Path(path).name, module)
        assert any(m in test_sources for m in mentioned), f"no test exercises {path}"


def test_the_scale_out_run_starts_every_shipped_unit():
    source = (TESTS / "scale" / "test_scale_out.py").read_text()
    for unit in sorted(p.name for p in UNITS.glob("*.service")):
        assert f'"{unit}"' in source, f"the scale-out run does not start {unit}"


@pytest.mark.parametrize("unit", sorted(p.name for p in UNITS.glob("*.service")))
def test_each_unit_runs_from_the_install_dir_with_the_shared_environment_file(unit):
    d = unit_directives(unit)
    assert d["Service.WorkingDirectory"] == INSTALL_DIR
    assert d["Service.EnvironmentFile"] == "/etc/fraudcenter/fraudcenter.env"
    assert d["Service.ExecStart"].startswith(f"{INSTALL_DIR}/.venv/bin/")
    assert VAR_DIR in d["Service.ReadWritePaths"].split()


def test_the_web_unit_runs_gunicorn_with_the_shipped_config():
    argv = unit_command("fraudcenter-web.service", bin_dir=BIN, hostname="fc-web-1")
    assert argv == [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "fraudcenter.wsgi"]
    assert (ROOT / argv[2]).is_file() and Path(argv[0]).is_file()
    # The metrics directory gunicorn's workers write to is the unit's runtime directory, set
    # for the web processes only (a worker or manage.py has no such directory).
    d = unit_directives("fraudcenter-web.service")
    metrics_dir = unit_environment("fraudcenter-web.service")["PROMETHEUS_MULTIPROC_DIR"]
    assert metrics_dir == f"/run/{d['Service.RuntimeDirectory']}"
    assert "PROMETHEUS_MULTIPROC_DIR" not in env_example()


def test_each_worker_instance_gets_a_node_name_celery_accepts():
    names = []
    for instance in ("1", "2"):
        argv = unit_command(
            "fraudcenter-worker@.service", bin_dir=BIN, hostname="fc-app-1", instance=instance
        )
        assert argv[:5] == [str(BIN / "celery"), "-A", "fraudcenter", "worker", "--pool=solo"]
        node = argv[argv.index("-n") + 1]
        names.append(host_format(node))  # raises on a format Celery does not know (%H)
    assert names == ["worker1@fc-app-1", "worker2@fc-app-1"]


def test_the_beat_unit_keeps_its_schedule_where_it_may_write():
    argv = unit_command("fraudcenter-beat.service", bin_dir=BIN, hostname="fc-app-1")
    assert argv[:4] == [str(BIN / "celery"), "-A", "fraudcenter", "beat"]
    schedule = next(a for a in argv if a.startswith("--schedule="))
    writable = unit_directives("fraudcenter-beat.service")["Service.ReadWritePaths"].split()
    assert any(schedule.removeprefix("--schedule=").startswith(w + "/") for w in writable)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_units(tmp_path):
    # The units as installed here: /opt/fraudcenter is this checkout, so the commands exist.
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace(f"{INSTALL_DIR}/.venv/bin", str(BIN))
        name = unit.name.replace("@.", "@1.")
        (tmp_path / name).write_text(text.replace(INSTALL_DIR, str(ROOT)))
    res = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr


def test_every_variable_in_the_example_environment_is_read_by_the_app():
    sources = "\n".join(
        p.read_text()
        for p in [*(ROOT / "fraudcenter").glob("*.py"), ROOT / "deploy/gunicorn.conf.py"]
    )
    for key in env_example():
        assert f'"{key}"' in sources, f"{key} is in the example environment but read nowhere"


@pytest.mark.slow
def test_the_example_environment_passes_check_deploy(tmp_path):
    """What an operator does: copy the example, fill in the secrets, start. Only the
    placeholders (change-me...) and the host paths of this machine are replaced."""
    example = env_example()
    placeholders = {k for k, v in example.items() if "change-me" in v}
    assert placeholders == {"SECRET_KEY", "SMS_SMPP_PASSWORD", "METRICS_TOKEN"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_ALLOW", "DEBUG"))}
    env.update(example)
    env.update({k: secrets.token_urlsafe(50) for k in placeholders})
    env["FRAUDCENTER_VAR_DIR"] = str(tmp_path / "var")
    res = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no issues" in res.stdout


def test_importing_the_app_connects_to_nothing_so_gunicorn_may_fork_it():
    """deploy/gunicorn.conf.py preloads the app in the master and warms it there: a connection
    opened while importing or warming would be shared by every worker forked from it."""
    conf: dict = {}
    exec((ROOT / "deploy/gunicorn.conf.py").read_text(), conf)  # noqa: S102  # our own file
    assert conf["preload_app"] is True and callable(conf["when_ready"])
    probe = (
        "import gc, socket, fraudcenter.wsgi\n"
        "from fraudcenter.warmup import warm_up\n"
        "assert warm_up() > 50, 'the templates were not compiled'\n"
        "from django.db import connections\n"
        "assert all(c.connection is None for c in connections.all()), 'a database connection'\n"
        "open_sockets = [o for o in gc.get_objects() if isinstance(o, socket.socket)"
        " and o.fileno() != -1]\n"
        "assert not open_sockets, open_sockets\n"
    )
    database = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    res = _run_app_probe(probe, DATABASE_URL=database)
    assert res.returncode == 0, res.stderr


def _run_app_probe(probe: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`probe` run by a fresh interpreter with the app's settings, as a gunicorn process."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fraudcenter.settings",
        "CACHE_URL": "redis://127.0.0.1:6379/13",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/13",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_a_new_worker_boots_even_when_the_database_is_down():
    """gunicorn's post_worker_init warms a worker with its connection and the playbooks; an
    exception there would fail the worker's boot, and gunicorn then stops the master. With
    no database (nothing listens on the port), the warm-up says so and returns."""
    conf: dict = {}
    exec((ROOT / "deploy/gunicorn.conf.py").read_text(), conf)  # noqa: S102  # our own file
    assert callable(conf["post_worker_init"])
    probe = (
        "import fraudcenter.wsgi\n"
        "from fraudcenter.warmup import warm_worker\n"
        "warm_worker()\n"
        "print('booted')\n"
    )
    res = _run_app_probe(
        probe, DATABASE_URL="postgres://postgres@127.0.0.1:1/postgres", LOG_LEVEL="WARNING"
    )
    assert res.returncode == 0, res.stderr
    assert "booted" in res.stdout and "warm-up: no database yet" in res.stdout + res.stderr
