"""Run inside the scale-out installation, in the run's environment.

`python -m tests.scale.prepare`: what an administrator sets up after `migrate` — the
telephony integration (create_integration, as in docs/deploy.md), a manager with an API
token for the reports, and a category whose playbook sends an SMS right on opening. Prints
them as one JSON line.

`python -m tests.scale.prepare backlog N`: one more case and N reminders for it, all due
now (as after an outage of the SMS gateway): a backlog for the workers to drain."""

from __future__ import annotations

import io
import json
import sys

import django


def main() -> None:
    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from knox.models import AuthToken

    from cases.roles import Role
    from playbooks.models import Category, Playbook, PlaybookVersion, Step
    from playbooks.services import playbook_publish

    out = io.StringIO()
    call_command("create_integration", "scale-telephony", stdout=out)
    integration_token = out.getvalue().strip().splitlines()[-1]

    manager = User.objects.create_user("scale-manager", password=None)
    manager.groups.add(Group.objects.get(name=Role.MANAGER))
    _instance, manager_token = AuthToken.objects.create(user=manager)

    category = Category.objects.create(slug="scale-bank", name="Звонок из «банка»", sla_minutes=240)
    playbook = Playbook.objects.create(category=category, slug="scale-bank", title="Банк")
    version = PlaybookVersion.objects.create(playbook=playbook, number=1)
    Step.objects.create(
        version=version, position=1, title="Успокоить абонента",
        sms_template="Обращение {number}: никому не сообщайте коды из SMS.",
        sms_delay_minutes=0, sms_trigger=Step.SmsTrigger.ON_OPEN,
    )  # fmt: skip
    playbook_publish(version=version)
    print(
        json.dumps(
            {
                "integration_token": integration_token,
                "manager_token": manager_token,
                "category": category.slug,
            }
        )
    )


def backlog(n: int) -> None:
    django.setup()
    from django.contrib.auth.models import User
    from django.utils import timezone

    from cases.services import case_open
    from playbooks.models import Category
    from reminders.models import Reminder

    case = case_open(
        actor=User.objects.get(username="scale-telephony"), channel="hotline",
        category=Category.objects.get(slug="scale-bank"), phone="+79163000000",
        summary="Очередь SMS после сбоя шлюза", external_id="backlog",
    )  # fmt: skip
    now = timezone.now()
    Reminder.objects.bulk_create(
        Reminder(
            case=case,
            subscriber=case.subscriber,
            send_after=now,
            dedupe_key=f"backlog-{i}",
            text=f"Напоминание {i}: никому не называйте коды из SMS.",
        )  # fmt: skip
        for i in range(n)
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["backlog"]:
        backlog(int(sys.argv[2]))
    else:
        main()
