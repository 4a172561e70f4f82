"""cases.access: the queryset and the predicate say the same thing for every role."""

from __future__ import annotations

import pytest
import rules
from django.core.exceptions import PermissionDenied
from django.http import Http404

from cases.access import CaseAction, access_case
from cases.models import Case
from tests.conftest import _user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "who", ["specialist", "supervisor", "manager", "integration", "nobody", "other_line"]
)
def test_visible_to_lists_exactly_the_cases_the_view_rule_allows(request, make_case, who):
    other_line = _user("chat-backend", "integration")
    make_case(), make_case(channel="chat"), make_case(actor=other_line, channel="chat")
    user = other_line if who == "other_line" else request.getfixturevalue(who)
    allowed = {c.pk for c in Case.objects.all() if rules.has_perm("cases.view_case", user, c)}
    assert set(Case.objects.visible_to(user).values_list("pk", flat=True)) == allowed


def test_access_case_is_404_for_a_case_out_of_sight_and_403_for_one_in_sight(
    make_case, integration, manager
):
    other_line = _user("chat-backend", "integration")
    theirs = make_case(actor=other_line)
    with pytest.raises(Http404):
        access_case(integration, theirs.pk)
    with pytest.raises(Http404):
        access_case(integration, 999_999)
    with pytest.raises(PermissionDenied):
        access_case(manager, theirs.pk, for_=CaseAction.CHANGE)
    assert access_case(manager, theirs.pk) == theirs


def test_an_integration_may_append_chat_lines_to_any_chat_case_but_not_read_it(
    make_case, integration
):
    other_line = _user("chat-backend", "integration")
    chat = make_case(actor=other_line, channel="chat")
    assert access_case(integration, chat.pk, for_=CaseAction.CHAT) == chat
    with pytest.raises(Http404):
        access_case(integration, chat.pk)
