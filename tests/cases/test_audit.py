import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from cases.models import Case, Subscriber
from cases.services import case_update, subscriber_card_accessed
from playbooks.models import Priority

pytestmark = pytest.mark.django_db


def test_case_changes_are_recorded_field_by_field(make_case, supervisor):
    case = make_case()
    case_update(case=case, actor=supervisor, priority=Priority.HIGH, summary="Уточнено")
    entry = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Case), object_id=case.pk,
        action=LogEntry.Action.UPDATE,
    ).latest("timestamp")  # fmt: skip
    assert {"priority", "summary"} <= set(entry.changes_dict)
    assert entry.changes_dict["priority"] == ["2", "3"]


def test_opening_a_subscriber_card_is_recorded(make_case):
    subscriber = make_case().subscriber
    subscriber_card_accessed(subscriber=subscriber)
    assert LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Subscriber),
        object_id=subscriber.pk,
        action=LogEntry.Action.ACCESS,
    ).exists()


def test_actor_and_address_are_recorded_through_the_web(client, supervisor, make_case):
    case = make_case()
    client.force_login(supervisor)
    from auditlog.context import set_actor

    with set_actor(supervisor, remote_addr="10.0.0.7"):
        case_update(case=case, actor=supervisor, summary="Новый текст")
    entry = LogEntry.objects.filter(object_id=case.pk, action=LogEntry.Action.UPDATE).latest(
        "timestamp"
    )
    assert entry.actor == supervisor and entry.remote_addr == "10.0.0.7"
