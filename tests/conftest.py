from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User

from cases.roles import Role
from cases.services import case_open
from playbooks.models import Category, Playbook, PlaybookVersion, Step
from playbooks.services import playbook_publish
from tests.chat_server import chat_server as chat_server  # noqa: F401  (a fixture)
from tests.push_server import push_server as push_server  # noqa: F401  (a fixture)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (the queue's shared parts are cached a while)
    and no steps remembered from another test's playbook versions (ids come again)."""
    from django.core.cache import cache

    from playbooks.selectors import forget_kept

    cache.clear()
    forget_kept()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    # Live-server threads and worker subprocesses must not keep connections open between
    # requests (CONN_MAX_AGE in production): the test database is flushed and dropped.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


def pytest_collection_modifyitems(config, items):
    if settings.IS_POSTGRES:
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (SKIP LOCKED, full text, concurrency): set DATABASE_URL"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username, password="pass-Secret-611", first_name=username)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def specialist(db) -> User:
    return _user("spec", Role.SPECIALIST)


@pytest.fixture
def specialist2(db) -> User:
    return _user("spec2", Role.SPECIALIST)


@pytest.fixture
def supervisor(db) -> User:
    return _user("super", Role.SUPERVISOR)


@pytest.fixture
def manager(db) -> User:
    return _user("boss", Role.MANAGER)


@pytest.fixture
def integration(db) -> User:
    return _user("telephony", Role.INTEGRATION)


@pytest.fixture
def nobody(db) -> User:
    return _user("nobody", None)


@pytest.fixture
def category(db) -> Category:
    """A category whose published playbook has two required steps and one optional one."""
    category = Category.objects.create(
        slug="gosuslugi", name="Взлом Госуслуг", sla_minutes=240, urgent_sla_minutes=30
    )
    playbook = Playbook.objects.create(category=category, slug="gosuslugi", title="Госуслуги")
    version = PlaybookVersion.objects.create(playbook=playbook, number=1)
    Step.objects.create(version=version, position=1, title="Выяснить, что сообщил абонент")
    Step.objects.create(
        version=version,
        position=2,
        title="Завершить сеансы",
        sms_template="Обращение {number}: проверьте вход в Госуслуги и смените пароль.",
        sms_delay_minutes=1440,
    )
    Step.objects.create(version=version, position=3, title="Рассказать о самозапрете",
                        is_required=False)  # fmt: skip
    playbook_publish(version=version)
    category.refresh_from_db()
    return category


@pytest.fixture
def make_case(category, integration):
    counter = iter(range(10**6))

    def make(**kwargs):
        n = next(counter)
        defaults = {
            "actor": integration,
            "channel": "hotline",
            "category": category,
            "phone": f"+7916{1000000 + n:07d}",
            "summary": "Звонили из «службы безопасности»",
            "external_id": f"call-{n}",
        }
        defaults.update(kwargs)
        return case_open(**defaults)

    return make


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 costs ~0.5 s per user on a busy machine; tests prove behaviour, not hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
