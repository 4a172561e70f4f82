from __future__ import annotations

import pytest

from cases.models import Subscriber
from playbooks.models import Category, Playbook, PlaybookVersion, Step
from playbooks.services import playbook_publish
from reminders.backends import locmem, reset_backend

LOCMEM = "reminders.backends.locmem.LocmemBackend"


@pytest.fixture(autouse=True)
def sms_locmem(settings):
    settings.SMS_BACKEND = LOCMEM
    settings.SMS_TEST_HOOK_DIR = ""
    reset_backend()
    locmem.reset()
    yield locmem
    reset_backend()
    locmem.reset()


@pytest.fixture
def smsc(settings):
    """The test SMSC on a free port, and the SMPP backend pointed at it."""
    from .smsc import SmscServer

    server = SmscServer().start()
    settings.SMS_BACKEND = "reminders.backends.smpp.SmppBackend"
    settings.SMS_SMPP = {**settings.SMS_SMPP, "PORT": server.port, "TIMEOUT": 1.0}
    reset_backend()
    yield server
    reset_backend()
    server.stop()


@pytest.fixture
def no_quiet_hours(settings):
    """For tests that send "now": without it they would wait for the subscriber's morning
    whenever they run in the subscriber's quiet hours (CI in the evening)."""
    settings.SMS_QUIET_HOURS_START = settings.SMS_QUIET_HOURS_END = "00:00"


@pytest.fixture
def sms_category(db) -> Category:
    """A playbook with an SMS on opening (5 min) and one when step 2 is done (1 day)."""
    category = Category.objects.create(slug="bank", name="Звонок из «банка»", sla_minutes=240)
    playbook = Playbook.objects.create(category=category, slug="bank", title="Банк")
    version = PlaybookVersion.objects.create(playbook=playbook, number=1)
    Step.objects.create(
        version=version, position=1, title="Успокоить абонента",
        sms_template="Обращение {number}: никому не сообщайте коды из SMS.",
        sms_delay_minutes=5, sms_trigger=Step.SmsTrigger.ON_OPEN,
    )  # fmt: skip
    Step.objects.create(
        version=version, position=2, title="Сменить пароль",
        sms_template="Обращение {number}: смените пароль от Госуслуг и проверьте входы.",
        sms_delay_minutes=1440, sms_trigger=Step.SmsTrigger.ON_DONE,
    )  # fmt: skip
    playbook_publish(version=version)
    category.refresh_from_db()
    return category


@pytest.fixture
def sms_case(make_case, sms_category):
    def make(**kwargs):
        kwargs.setdefault("category", sms_category)
        return make_case(**kwargs)

    return make


def opt_out_directly(subscriber: Subscriber) -> None:
    """Opt-out written behind the services' back: only the send-time check can catch it."""
    Subscriber.objects.filter(pk=subscriber.pk).update(sms_opt_out=True)
