"""`make run`'s pieces from a clean state: migrate, seed, a worker and beat on the embedded
default (SQLite + filesystem broker), no server needed."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


@pytest.fixture
def embedded_env(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["FRAUDCENTER_VAR_DIR"] = str(tmp_path / "var")
    return env


def _run(args, env, timeout=300):
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_migrate_seed_and_worker_start_on_the_embedded_default(embedded_env, tmp_path):
    py = sys.executable
    assert _run([py, "manage.py", "migrate", "--noinput"], embedded_env).returncode == 0
    seeded = _run([py, "manage.py", "seed_demo"], embedded_env)
    assert seeded.returncode == 0, seeded.stderr
    assert "specialist1" in seeded.stdout
    assert (tmp_path / "var" / "db.sqlite3").exists()
    again = _run([py, "manage.py", "seed_demo"], embedded_env)
    assert again.returncode == 0 and "Демо-обращений создано" not in again.stdout

    celery = str(BIN / "celery")
    procs = [
        subprocess.Popen(
            [celery, "-A", "fraudcenter", "worker", "--pool=solo", "-l", "INFO"],
            cwd=ROOT, env=embedded_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        ),
        subprocess.Popen(
            [celery, "-A", "fraudcenter", "beat", "-l", "INFO",
             f"--schedule={tmp_path / 'beat-schedule'}"],
            cwd=ROOT, env=embedded_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        ),
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        pong = None
        while time.monotonic() < deadline:
            pong = _run([celery, "-A", "fraudcenter", "inspect", "ping", "-t", "3"], embedded_env)
            if pong.returncode == 0 and "pong" in pong.stdout:
                break
            time.sleep(1)
        assert pong is not None and "pong" in pong.stdout, pong.stdout + pong.stderr
        assert procs[1].poll() is None, "beat exited"
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            out, _ = p.communicate(timeout=30)
    assert "beat: Starting" in out


def test_the_procfile_writes_only_where_fraudcenter_var_dir_says():
    # Beat's schedule file comes from settings (CELERY_BEAT_SCHEDULE_FILENAME, under
    # FRAUDCENTER_VAR_DIR); a path of the checkout's own var/ would not exist elsewhere.
    for line in (ROOT / "Procfile").read_text().splitlines():
        assert "var/" not in line, line


def test_the_web_process_shows_the_russian_error_pages_and_serves_static_files(embedded_env):
    """`make run`'s web process with nothing configured: DEBUG is off, so a wrong address is
    the project's Russian 404 (not Django's English one with the URL list), and the static
    files are still served (whitenoise, straight from the apps)."""
    import socket
    import urllib.error
    import urllib.request

    assert _run([sys.executable, "manage.py", "migrate", "--noinput"], embedded_env).returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    web = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT, env=embedded_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "the web process did not start"
                time.sleep(0.5)
        try:
            urllib.request.urlopen(f"{base}/no-such-page/", timeout=10)
            raise AssertionError("a wrong address answered 2xx")
        except urllib.error.HTTPError as missing:
            page = missing.read().decode()
            assert missing.code == 404
        assert "Такой страницы или обращения нет." in page and "URLconf" not in page
        for path in ("/static/css/app.css", "/static/js/new-case.js"):
            assert urllib.request.urlopen(f"{base}{path}", timeout=10).status == 200, path
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.communicate(timeout=30)
