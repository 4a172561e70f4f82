"""Who may do what with a case: the predicates, registered with `rules`.

The only place these rules are written. Entry points never call them directly: they go
through cases.access (`access_case`, `Case.objects.visible_to`), which turns a missing
permission into 404 (may not even see it) or 403 (may see it, may not do this)."""

from __future__ import annotations

from typing import Any

import rules
from django.db.models import Q

from .choices import Channel
from .roles import STAFF_ROLES, Role, has_model_permission, has_role, user_roles


@rules.predicate
def is_specialist(user: Any) -> bool:
    return has_role(user, Role.SPECIALIST)


@rules.predicate
def is_supervisor(user: Any) -> bool:
    return has_role(user, Role.SUPERVISOR)


@rules.predicate
def is_manager(user: Any) -> bool:
    return has_role(user, Role.MANAGER)


@rules.predicate
def is_integration(user: Any) -> bool:
    return has_role(user, Role.INTEGRATION)


# Without a case (`has_perm(name)`), the object predicates answer for "some case": the
# question is then whether the role may ever do it.
@rules.predicate
def is_assignee_or_unassigned(user: Any, case: Any) -> bool:
    return case is None or case.assignee_id is None or case.assignee_id == user.pk


@rules.predicate
def is_unassigned(user: Any, case: Any) -> bool:
    return case is None or case.assignee_id is None


@rules.predicate
def opened_it(user: Any, case: Any) -> bool:
    return case is None or case.created_by_id == user.pk


@rules.predicate
def is_chat_case(user: Any, case: Any) -> bool:
    return case is None or case.channel == Channel.CHAT


rules.add_rule("cases.is_integration", is_integration)


@rules.predicate
def may_unmask(user: Any) -> bool:
    return has_model_permission(user, "cases.export_unmasked")


is_staff_member = is_specialist | is_supervisor | is_manager
# Working a case by hand: a specialist on their own or unassigned cases; supervisors on any.
works_it = (is_specialist & is_assignee_or_unassigned) | is_supervisor

# Seeing a case: every staff role; an integration only the cases it opened itself.
rules.add_perm("cases.view_case", is_staff_member | (is_integration & opened_it))
# Changing it (status, fields, notes, SMS): staff who work it. Integrations do not.
rules.add_perm("cases.change_case", works_it)
# Steps and scammer identifiers: also the integration that opened it (the IVR captures the
# scammer's number, the chat bot walks the first steps).
rules.add_perm("cases.work_case", works_it | (is_integration & opened_it))
# Chat lines: the staff who work the case; an integration on its own cases and on any chat
# case (a chat a specialist opened by hand).
rules.add_perm("cases.add_chatmessage", works_it | (is_integration & (opened_it | is_chat_case)))
# Answering the subscriber in the app's chat: the staff who work a chat case.
rules.add_perm("cases.reply_chat", works_it & is_chat_case)
# Sending a reply again after the chat backend refused it for good: supervisors.
rules.add_perm("cases.resend_chat", is_supervisor)
# Opening a case: whoever takes contacts.
rules.add_perm("cases.add_case", is_specialist | is_supervisor | is_integration)
# The screen pop: a subscriber's whole history, for whoever takes contacts or reads cases.
rules.add_perm("cases.view_subscriber", is_staff_member | is_integration)
rules.add_perm("cases.use_workspace", is_staff_member)
# Subscribers' numbers and names in full: whoever works with subscribers, and anyone given
# the unmasking permission (the same that unmasks exports). Managers see them masked.
rules.add_perm(
    "cases.view_personal_data", is_specialist | is_supervisor | is_integration | may_unmask
)
rules.add_perm("cases.assign_case", is_supervisor)
# A specialist takes a free case for themself.
rules.add_perm("cases.take_case", is_specialist & is_unassigned)
rules.add_perm("cases.view_queue", is_supervisor | is_manager)


@rules.predicate
def is_self(user: Any, person: Any) -> bool:
    return person is None or person.pk == user.pk


# Calls (the PBX's log): whoever reads cases, and integrations (the chat backend, wallboards).
rules.add_perm("calls.view_call", is_staff_member | is_integration)
# Callbacks owed to missed callers: those who take calls.
rules.add_perm("calls.work_callback", is_specialist | is_supervisor)


@rules.predicate
def is_blocking_system(user: Any) -> bool:
    return has_role(user, Role.BLOCKING)


# Scammer intelligence: supervisors decide on identifiers; the blocking systems (and the
# supervisors) read the feed; supervisors and managers see the waves and the figures.
rules.add_perm("intel.review", is_supervisor)
rules.add_perm("intel.read_feed", is_blocking_system | is_supervisor)
rules.add_perm("intel.view_waves", is_supervisor | is_manager)

# Breaks and absences: a supervisor for anyone on the line; a specialist for themself.
rules.add_perm("cases.set_absence", is_supervisor | (is_specialist & is_self))
rules.add_perm("cases.view_reports", is_manager | is_supervisor)


def visible_cases_q(user: Any) -> Q | None:
    """`cases.view_case` as a filter: None for every case, else the condition.

    The same rule as the predicate above, for lists; tests/cases/test_access.py checks that
    the two agree for every role."""
    roles = user_roles(user)
    if roles & STAFF_ROLES:
        return None
    if Role.INTEGRATION in roles:
        return Q(created_by_id=user.pk)
    return Q(pk__in=[])
