import pytest
from django.core.exceptions import ValidationError

from playbooks.models import PlaybookVersion, Step
from playbooks.services import (
    playbook_create_draft,
    playbook_publish,
    sms_parts,
    sms_text_errors,
)

pytestmark = pytest.mark.django_db


def test_a_published_version_cannot_be_edited(category):
    step = category.playbook.current_version.steps.first()
    step.title = "Другое"
    with pytest.raises(ValidationError):
        step.save()
    with pytest.raises(ValidationError):
        step.delete()


def test_a_draft_copies_the_steps_and_publishing_it_archives_the_old_version(category):
    playbook = category.playbook
    old = playbook.current_version
    draft = playbook_create_draft(playbook=playbook, actor=None)
    assert draft.number == 2 and draft.status == PlaybookVersion.Status.DRAFT
    assert [s.title for s in draft.steps.all()] == [s.title for s in old.steps.all()]
    assert playbook_create_draft(playbook=playbook, actor=None) == draft  # one draft at a time
    Step.objects.create(version=draft, position=4, title="Новый шаг")
    playbook_publish(version=draft)
    playbook.refresh_from_db()
    old.refresh_from_db()
    assert playbook.current_version == draft
    assert old.status == PlaybookVersion.Status.ARCHIVED


def test_cases_keep_the_version_they_were_opened_with(category, make_case):
    old_case = make_case()
    draft = playbook_create_draft(playbook=category.playbook, actor=None)
    playbook_publish(version=draft)
    category.refresh_from_db()
    new_case = make_case()
    old_case.refresh_from_db()
    assert old_case.playbook_version.number == 1
    assert new_case.playbook_version.number == 2


def test_only_a_draft_with_steps_is_published(category):
    with pytest.raises(ValidationError):
        playbook_publish(version=category.playbook.current_version)
    draft = playbook_create_draft(playbook=category.playbook, actor=None)
    draft.steps.all().delete()
    with pytest.raises(ValidationError):
        playbook_publish(version=draft)


def test_a_step_sms_with_a_link_is_refused_at_publish(category):
    draft = playbook_create_draft(playbook=category.playbook, actor=None)
    Step.objects.create(
        version=draft,
        position=9,
        title="X",
        sms_template="Войдите на gosuslugi.ru",
        sms_delay_minutes=5,
    )
    with pytest.raises(ValidationError):
        playbook_publish(version=draft)


@pytest.mark.parametrize(
    "text",
    ["Зайдите на https://example.com", "www.bank.ru", "проверьте gosuslugi.ru", "сайт пример.рф"],
)
def test_links_are_refused_in_sms_texts(text):
    assert sms_text_errors(text)


def test_sms_parts_count_cyrillic_as_ucs2():
    assert sms_parts("а" * 70) == (70, 1)
    assert sms_parts("а" * 71) == (71, 2)
    assert sms_parts("а" * 134) == (134, 2)
    assert sms_parts("а" * 135) == (135, 3)
    assert sms_parts("a" * 160) == (160, 1)
    assert sms_parts("a" * 161) == (161, 2)


def test_a_published_versions_steps_are_read_once_a_drafts_every_time(
    category, django_assert_num_queries
):
    from playbooks.selectors import version_steps

    published = category.playbook.current_version
    draft = playbook_create_draft(playbook=category.playbook, actor=None)
    with django_assert_num_queries(1):  # the steps with their version's status
        first = version_steps(published.pk)
    with django_assert_num_queries(0):  # it can never change: kept for the process
        assert [s.pk for s in version_steps(published.pk)] == [s.pk for s in first]
    assert [s.position for s in first] == [1, 2, 3]
    version_steps(draft.pk)
    Step.objects.create(version=draft, position=4, title="Новый шаг")
    with django_assert_num_queries(1):  # the editor is changing it: read again
        assert [s.title for s in version_steps(draft.pk)][-1] == "Новый шаг"
    playbook_publish(version=draft)
    version_steps(draft.pk)
    with django_assert_num_queries(0):  # published now: kept
        assert len(version_steps(draft.pk)) == 4


def test_a_new_worker_keeps_the_current_playbooks_before_its_first_request(
    category, django_assert_num_queries
):
    """gunicorn's post_worker_init (fraudcenter.warmup.warm_worker): the first case opening
    and case page of a recycled worker read neither the category nor the steps."""
    from playbooks.selectors import active_category, keep_current_playbooks, version_steps

    with django_assert_num_queries(2):  # the categories with playbooks, the current steps
        keep_current_playbooks()
    version_id = category.playbook.current_version_id
    with django_assert_num_queries(0):
        assert active_category(category.slug).pk == category.pk
        assert len(version_steps(version_id)) == 3
