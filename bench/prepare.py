"""Prepare one benchmark database: seed it to the wanted size, make the credentials and the
rotating path lists that the wrk scripts read, and count SQL statements per endpoint.

    DATABASE_URL=postgres://.../fc_bench_1000000 python bench/prepare.py SIZE OUTDIR
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudcenter.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from cases.models import Case, Subscriber  # noqa: E402
from playbooks.models import Category  # noqa: E402

SAMPLES = 2000


def seed(size: int) -> None:
    call_command("migrate", "--noinput", verbosity=0)
    call_command("seed_demo", "--quiet-logins")
    missing = size - Case.objects.count()
    if missing > 0:
        call_command("seed_demo", "--cases", str(missing), "--quiet-logins")


def token() -> str:
    out = io.StringIO()
    call_command("create_integration", "bench-line", stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def session_for(username: str) -> str:
    user = User.objects.get(username=username)
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    # The backend a password login would record (the last one: cases.roles.RoleAwareModelBackend).
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def path_lists(rng: random.Random) -> dict[str, list[str]]:
    max_case = Case.objects.order_by("-id").values_list("id", flat=True).first()
    max_sub = Subscriber.objects.order_by("-id").values_list("id", flat=True).first()
    case_ids = [rng.randrange(1, max_case + 1) for _ in range(SAMPLES)]
    sub_ids = [rng.randrange(1, max_sub + 1) for _ in range(SAMPLES)]
    phones = [
        str(m) for m in Subscriber.objects.filter(id__in=sub_ids).values_list("msisdn", flat=True)
    ]
    slugs = list(Category.objects.values_list("slug", flat=True))
    statuses = ["new", "in_progress", "waiting", "closed"]
    combos = [(s, c) for s in statuses for c in slugs]
    return {
        "api_list_status": [f"/api/v1/cases/?status={s}&category={c}" for s, c in combos],
        "api_list_phone": [f"/api/v1/cases/?phone={p.replace('+', '%2B')}" for p in phones],
        "api_lookup": [
            f"/api/v1/subscribers/lookup/?phone={p.replace('+', '%2B')}" for p in phones
        ],
        "page_case": [f"/cases/{i}/" for i in case_ids],
        "page_list": [f"/cases/?status={s}&category={c}" for s, c in combos],
    }


def count_queries(paths: dict[str, list[str]], tok: str) -> dict[str, int]:
    """SQL statements per request, the most over a few samples of each endpoint."""
    api = Client(HTTP_AUTHORIZATION=f"Token {tok}")
    staff = Client()
    staff.force_login(User.objects.get(username="specialist1"))
    counts = {}
    for name, items in paths.items():
        client = staff if name.startswith("page_") else api
        worst = 0
        client.get(items[0])  # first visit: staff profile, content types; not counted
        for path in items[:5]:
            with CaptureQueriesContext(connection) as ctx:
                res = client.get(path)
            assert res.status_code in (200, 404), (path, res.status_code)
            worst = max(worst, len(ctx.captured_queries))
        counts[name] = worst
    return counts


def main() -> None:
    size, outdir = int(sys.argv[1]), Path(sys.argv[2])
    outdir.mkdir(parents=True, exist_ok=True)
    seed(size)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    rng = random.Random(size)
    paths = path_lists(rng)
    for name, items in paths.items():
        (outdir / f"{name}.txt").write_text("\n".join(items) + "\n")
    tok = token()
    settings.DEBUG = True  # CaptureQueriesContext needs nothing else; the server runs DEBUG off
    queries = count_queries(paths, tok)
    (outdir / "queries.json").write_text(json.dumps(queries, indent=2))
    env = {
        "TOKEN": tok,
        "SESSIONID": session_for("specialist1"),
        "KNOWN_SUBSCRIBERS": str(Subscriber.objects.filter(msisdn__startswith="+7958").count()),
        "CASES": str(Case.objects.count()),
    }
    (outdir / "env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    print(json.dumps({"size": size, "queries": queries, "cases": env["CASES"]}))


if __name__ == "__main__":
    main()
