"""Prepare a database for the day run (`bench/day.py`): seed it to SIZE cases, give the center
its staff (accounts, CTI extensions, logged-in sessions) and the machines their tokens, and
write what the load script reads to OUTDIR/day.json.

    DATABASE_URL=postgres://.../fc_bench_1000000 python bench/day_prepare.py SIZE OUTDIR \
        [--specialists 300] [--supervisors 20] [--managers 3]

Accounts are the center's size (300 specialists by default); simulated specialists beyond
that share them round-robin, each with its own CTI extension's calls.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudcenter.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from prepare import seed, session_for  # noqa: E402

from calls.services import cti_endpoint_create  # noqa: E402
from cases.models import Case, StaffProfile, Subscriber  # noqa: E402
from cases.roles import Role  # noqa: E402
from playbooks.models import Category  # noqa: E402


@transaction.atomic
def staff(prefix: str, role: Role, count: int, extension_base: int) -> list[dict[str, str]]:
    group = Group.objects.get(name=role)
    people = []
    for n in range(1, count + 1):
        username = f"day-{prefix}{n:03d}"
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": prefix.title(), "last_name": f"№{n}"}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            user.groups.add(group)
        extension = str(extension_base + n)
        StaffProfile.objects.update_or_create(
            user=user,
            defaults={"cti_extension": extension, "max_open_cases": 1000, "is_available": True},
        )
        people.append({"username": username, "session": "", "extension": extension})
    return people


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("size", type=int)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--specialists", type=int, default=300)
    parser.add_argument("--supervisors", type=int, default=20)
    parser.add_argument("--managers", type=int, default=3)
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    seed(args.size)
    team = {
        "specialists": staff("spec", Role.SPECIALIST, args.specialists, 7000),
        "supervisors": staff("sup", Role.SUPERVISOR, args.supervisors, 8000),
        "managers": staff("mgr", Role.MANAGER, args.managers, 8900),
    }
    for people in team.values():
        for person in people:
            person["session"] = session_for(person["username"])
    out = io.StringIO()
    call_command("create_integration", "day-line", stdout=out)
    api_token = out.getvalue().strip().splitlines()[-1]
    _endpoint, cti_token = cti_endpoint_create(name=f"day-pbx-{time.time_ns()}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    max_sub = Subscriber.objects.order_by("-id").values_list("id", flat=True).first() or 1
    day = {
        **team,
        "api_token": api_token,
        "cti_token": cti_token,
        "categories": list(Category.objects.values_list("slug", flat=True)),
        "category_ids": list(Category.objects.values_list("id", flat=True)),
        # seed_demo --cases numbers its subscribers +7958<id>: a known caller is one of those.
        "known_subscribers": Subscriber.objects.filter(msisdn__startswith="+7958").count(),
        "max_subscriber": max_sub,
        "max_case": Case.objects.order_by("-id").values_list("id", flat=True).first(),
        "cases": Case.objects.count(),
    }
    (args.outdir / "day.json").write_text(json.dumps(day, ensure_ascii=False, indent=1))
    print(json.dumps({k: day[k] for k in ("cases", "known_subscribers", "max_case")}))


if __name__ == "__main__":
    main()
