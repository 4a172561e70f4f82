"""Prepare a database for the day run (`bench/day.py`): seed it to SIZE cases, give the center
its staff (accounts, CTI extensions, logged-in sessions) and the machines their tokens, and
write what the load script reads to OUTDIR/day.json.

    DATABASE_URL=postgres://.../fc_bench_1000000 python bench/day_prepare.py SIZE OUTDIR \
        [--specialists 300] [--supervisors 20] [--managers 3]

One account per simulated person, as a real center of that size has (`bench/day.py` asks
for the largest step's number): shared accounts fanned each screen-pop push out to every
simulated specialist on the account (6.7 fetches per answered call at 2,000 on 300 accounts).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudcenter.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from prepare import seed, session_for  # noqa: E402

from calls.services import cti_endpoint_create  # noqa: E402
from cases.models import Case, StaffProfile, Subscriber  # noqa: E402
from cases.roles import Role  # noqa: E402
from deliveries import push  # noqa: E402
from playbooks.models import Category, Step  # noqa: E402


@transaction.atomic
def staff(prefix: str, role: Role, count: int, extension_base: int) -> list[dict[str, str]]:
    """`count` accounts of the role, each with its CTI extension, in bulk (a run with 3,000
    specialists makes 3,000; the accounts stay for the next run)."""
    group = Group.objects.get(name=role)
    names = [f"day-{prefix}{n:03d}" for n in range(1, count + 1)]
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    new = [
        User(username=name, first_name=prefix.title(), last_name=f"№{n}")
        for n, name in enumerate(names, 1)
        if name not in existing
    ]
    for user in new:
        user.set_unusable_password()
    User.objects.bulk_create(new, batch_size=1000)
    # The center is this size: a larger earlier run's extra accounts leave it (inactive: out
    # of the staff table and the assignee lists), this run's come back.
    prefix_users = User.objects.filter(username__startswith=f"day-{prefix}")
    prefix_users.exclude(username__in=names).update(is_active=False)
    prefix_users.filter(username__in=names, is_active=False).update(is_active=True)
    ids = dict(User.objects.filter(username__in=names).values_list("username", "id"))
    User.groups.through.objects.bulk_create(
        [User.groups.through(user_id=ids[u.username], group_id=group.pk) for u in new],
        ignore_conflicts=True,
    )
    StaffProfile.objects.bulk_create(
        [
            StaffProfile(
                user_id=ids[name], cti_extension=str(extension_base + n), max_open_cases=1000,
                is_available=True,
            )
            for n, name in enumerate(names, 1)
        ],
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["cti_extension", "max_open_cases", "is_available"],
        batch_size=1000,
    )  # fmt: skip
    return [
        {"username": name, "session": "", "extension": str(extension_base + n)}
        for n, name in enumerate(names, 1)
    ]


def make_pool(per_account: int, accounts: list[dict[str, str]], tag: str) -> dict[str, Any]:
    """Cases that the simulated specialists are already working when the measurement starts
    (a contact joined midway), made in bulk per account: in progress, assigned, the playbook
    pinned, version 1. Without them each user made its own through the pages at start, a
    burst that the first minute of every step measured instead of the hour."""
    now = timezone.now()
    users = dict(User.objects.filter(username__in=[a["username"] for a in accounts])
                 .values_list("username", "id"))  # fmt: skip
    categories = list(Category.objects.select_related("playbook"))
    max_sub = Subscriber.objects.order_by("-id").values_list("id", flat=True).first() or 1
    rng = random.Random(tag)
    cases, owners = [], []
    for account in accounts:
        for n in range(2 * per_account):  # as many chats as calls: each user takes one
            category = categories[(n + len(cases)) % len(categories)]
            playbook = getattr(category, "playbook", None)
            chat = n < per_account
            cases.append(Case(
                number=f"daypool-{tag}-{len(cases)}", channel="chat" if chat else "hotline",
                category=category,
                playbook_version_id=playbook.current_version_id if playbook else None,
                status="in_progress", priority=category.default_priority,
                subscriber_id=rng.randrange(1, max_sub + 1), assignee_id=users[account["username"]],
                summary="Обращение в работе", external_id=f"daypool-{tag}-{len(cases)}",
                due_at=now + timedelta(minutes=category.sla_minutes), created_at=now,
                updated_at=now, version=1,
            ))  # fmt: skip
            owners.append((account["username"], chat))
    Case.objects.bulk_create(cases, batch_size=2000)
    for case in cases:
        case.number = f"{now.year % 100:02d}-{case.pk:06d}"
    Case.objects.bulk_update(cases, ["number"], batch_size=2000)
    pool: dict[str, dict[str, list[list[int]]]] = {}
    for case, (username, chat) in zip(cases, owners, strict=True):
        # The open case page's push URL (pop and case topics), as the page would carry it.
        push_url = push.url_for([f"pop:{users[username]}", f"case:{case.pk}"])
        pool.setdefault(username, {"chat": [], "call": []})["chat" if chat else "call"].append(
            [case.pk, case.category_id, push_url]
        )
    steps = {
        str(c.pk): list(
            Step.objects.filter(version_id=c.playbook.current_version_id)
            .order_by("position").values_list("id", flat=True)
        )
        for c in categories if getattr(c, "playbook", None)
    }  # fmt: skip
    return {"cases": pool, "steps": steps}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("size", type=int)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--specialists", type=int, default=300)
    parser.add_argument("--supervisors", type=int, default=20)
    parser.add_argument("--managers", type=int, default=3)
    parser.add_argument(
        "--pool", type=int, default=0, help="only make N in-progress cases per specialist account"
    )
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    if args.pool:
        day = json.loads((args.outdir / "day.json").read_text())
        pool = make_pool(args.pool, day["specialists"], args.tag)
        (args.outdir / f"pool-{args.tag}.json").write_text(json.dumps(pool))
        return
    seed(args.size)
    team = {
        "specialists": staff("spec", Role.SPECIALIST, args.specialists, 100000),
        "supervisors": staff("sup", Role.SUPERVISOR, args.supervisors, 200000),
        "managers": staff("mgr", Role.MANAGER, args.managers, 300000),
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
