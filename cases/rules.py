"""Who may do what. Checked by every view and endpoint through user.has_perm()."""

import rules

from .roles import Role, has_role


@rules.predicate
def is_specialist(user) -> bool:
    return has_role(user, Role.SPECIALIST)


@rules.predicate
def is_supervisor(user) -> bool:
    return has_role(user, Role.SUPERVISOR)


@rules.predicate
def is_manager(user) -> bool:
    return has_role(user, Role.MANAGER)


@rules.predicate
def is_integration(user) -> bool:
    return has_role(user, Role.INTEGRATION)


@rules.predicate
def is_assignee_or_unassigned(user, case) -> bool:
    return case is None or case.assignee_id is None or case.assignee_id == user.pk


is_staff_member = is_specialist | is_supervisor | is_manager

# Reading cases: every staff role and the integrations (screen pop, chat).
rules.add_perm("cases.view_case", is_staff_member | is_integration)
rules.add_perm("cases.view_subscriber", is_staff_member | is_integration)
# Opening a case: whoever takes contacts.
rules.add_perm("cases.add_case", is_specialist | is_supervisor | is_integration)
# Working a case: a specialist on their own or unassigned cases; supervisors on any.
rules.add_perm("cases.change_case", (is_specialist & is_assignee_or_unassigned) | is_supervisor)
# Integrations append chat lines to cases they can see.
rules.add_perm("cases.add_chatmessage", is_integration | is_specialist | is_supervisor)
rules.add_perm("cases.assign_case", is_supervisor)
rules.add_perm("cases.view_queue", is_supervisor | is_manager)
rules.add_perm("cases.view_reports", is_manager | is_supervisor)
