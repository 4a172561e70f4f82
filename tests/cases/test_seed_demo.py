import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from cases.models import Case, CaseEvent, ScammerIdentifier, Subscriber
from playbooks.models import Category, Playbook

pytestmark = pytest.mark.django_db


def test_seed_demo_loads_users_playbooks_and_cases_once(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "specialist1" in out and "supervisor" in out and "manager" in out
    counts = (Category.objects.count(), Playbook.objects.count(), Case.objects.count())
    assert counts[0] >= 9 and counts[1] == counts[0] and counts[2] > 0
    assert all(p.current_version_id for p in Playbook.objects.all())
    assert User.objects.get(username="specialist1").check_password("demo-611-pass")
    call_command("seed_demo")
    assert (Category.objects.count(), Playbook.objects.count(), Case.objects.count()) == counts


def test_seed_demo_bulk_adds_cases_that_the_app_can_read():
    call_command("seed_demo", "--cases", "3000", "--quiet-logins")
    bulk = Case.objects.filter(external_id__startswith="bulk-")
    assert bulk.count() == 3000
    assert Subscriber.objects.filter(cases__in=bulk).distinct().count() < 3000  # repeat victims
    assert CaseEvent.objects.filter(case__in=bulk, kind="created").count() == 3000
    assert ScammerIdentifier.objects.exists()
    # Sequences moved past the explicit ids: the next ordinary case gets a fresh one.
    from cases.services import case_open

    case = case_open(
        actor=None, channel="hotline", category=Category.objects.first(),
        phone="+79160001122", summary="После массовой загрузки",
    )  # fmt: skip
    assert case.pk > bulk.order_by("-pk").first().pk
