"""Access to cases: the one module every entry point asks (staff pages, API, reminders,
exports, calls, chat). In the style of zulip's `access_*` helpers: fetch and check in one
call; the predicates themselves live in cases/rules.py.

A case the user may not see answers 404 (as if it did not exist); a case they may see but
not act on answers 403 with the reason. Django's Http404 and PermissionDenied are what both
the staff pages and DRF turn into those statuses, so the two agree by construction."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import rules
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from playbooks.models import Step
from playbooks.selectors import version_steps

from .models import Case, CaseQuerySet, ChatMessage, IdentifierSuggestion


class CaseAction(StrEnum):
    VIEW = "view"  # the case, its timeline, its SMS
    WORK = "work"  # playbook steps and scammer identifiers
    CHANGE = "change"  # status, fields, notes, assignment by taking it
    CHAT = "chat"  # append a chat line (the chat backend), report the chat's state
    REPLY = "reply"  # answer the subscriber in the chat
    RESEND = "resend"  # send a reply again after it failed
    REMINDERS = "reminders"  # schedule or cancel its SMS


_PERMISSION = {
    CaseAction.VIEW: "cases.view_case",
    CaseAction.WORK: "cases.work_case",
    CaseAction.CHANGE: "cases.change_case",
    CaseAction.CHAT: "cases.add_chatmessage",
    CaseAction.REPLY: "cases.reply_chat",
    CaseAction.RESEND: "cases.resend_chat",
    CaseAction.REMINDERS: "cases.change_case",
}


def _refusal(action: CaseAction) -> str:
    if action == CaseAction.REMINDERS:
        return _("Нет прав менять SMS этого обращения.")
    if action == CaseAction.CHAT:
        return _("Нет прав писать в чат этого обращения.")
    if action == CaseAction.REPLY:
        return _(
            "Отвечать в чат может исполнитель обращения или старший смены, и только в "
            "обращениях из чата."
        )
    if action == CaseAction.RESEND:
        return _("Повторить отправку может старший смены.")
    return _("Это обращение может менять только его исполнитель или старший смены.")


def may(user: Any, action: CaseAction, case: Case | None = None) -> bool:
    """Whether the user may do this to the case (or, without a case, to some case)."""
    return rules.has_perm(_PERMISSION[action], user, case)


def check_case(user: Any, case: Case | None, *, for_: CaseAction = CaseAction.VIEW) -> Case:
    """The check of access_case() for a case already loaded (or None when there is none)."""
    permission = _PERMISSION[for_]
    if case is None or not (
        rules.has_perm("cases.view_case", user, case) or rules.has_perm(permission, user, case)
    ):
        raise Http404(_("Обращение не найдено."))
    if not rules.has_perm(permission, user, case):
        raise PermissionDenied(_refusal(for_))
    return case


def access_case(
    user: Any,
    case_id: int,
    *,
    for_: CaseAction = CaseAction.VIEW,
    queryset: CaseQuerySet | None = None,
) -> Case:
    """The case if the user may do `for_` to it: one query (the queryset's, so the caller
    chooses its joins); 404 if they may not see it, 403 if they may see it but not do it."""
    queryset = Case.objects.all() if queryset is None else queryset
    return check_case(user, _one(queryset.filter(pk=case_id)), for_=for_)


def _one(queryset: Any) -> Any:
    """The one row a key lookup finds, or None. Not `.first()`: it sorts by the model's
    ordering, which a key lookup does not need and every request paid for in compiling
    (the case's access was 14 % of a web worker's CPU at a day run, a quarter of it the
    ORDER BY)."""
    return next(iter(queryset.order_by()[:1]), None)


def visible_cases(user: Any, queryset: CaseQuerySet | None = None) -> CaseQuerySet:
    queryset = Case.objects.all() if queryset is None else queryset
    return queryset.visible_to(user)


def access_case_step(case: Case, step_id: int) -> Step:
    """A step of the case's pinned playbook version; any other step answers 404."""
    if case.playbook_version_id is not None:
        for step in version_steps(case.playbook_version_id):
            if step.pk == step_id:
                return step
    raise Http404(_("Шаг не найден."))


def access_chat_message(case: Case, message_id: int) -> ChatMessage:
    """A chat line of this case (with its delivery); any other answers 404."""
    message = _one(ChatMessage.objects.select_related("delivery").filter(pk=message_id, case=case))
    if message is None:
        raise Http404(_("Сообщение не найдено."))
    return message


def access_suggestion(case: Case, suggestion_id: int) -> IdentifierSuggestion:
    """An identifier found in this case's texts; any other answers 404."""
    suggestion = _one(IdentifierSuggestion.objects.filter(pk=suggestion_id, case=case))
    if suggestion is None:
        raise Http404(_("Предложение не найдено."))
    return suggestion


def may_assign(user: Any) -> bool:
    return rules.has_perm("cases.assign_case", user)


def may_take(user: Any, case: Case | None = None) -> bool:
    return rules.has_perm("cases.take_case", user, case)


# --- Beyond one case --------------------------------------------------------------------------


def has(user: Any, permission: str) -> bool:
    """A permission not tied to one case (cases/rules.py), for what a page offers."""
    return rules.has_perm(permission, user)


def require(user: Any, permission: str, message: str | None = None) -> None:
    if not rules.has_perm(permission, user):
        raise PermissionDenied(message or _("Недостаточно прав."))


def require_workspace(user: Any) -> None:
    """The staff pages: specialists, supervisors and managers."""
    require(user, "cases.use_workspace", _("Нет доступа к рабочему месту."))


def require_open_case(user: Any) -> None:
    require(user, "cases.add_case", _("Открывать обращения могут специалисты и старшие смены."))


def require_supervisor(user: Any) -> None:
    require(user, "cases.assign_case", _("Это действие доступно только старшему смены."))


def may_set_absence(user: Any, person: Any = None) -> bool:
    """Whether `user` may mark `person` away or back (None: anyone they ever may)."""
    return rules.has_perm("cases.set_absence", user, person)


def may_see_queue(user: Any) -> bool:
    """The queue and each specialist's load and shift: supervisors and managers."""
    return rules.has_perm("cases.view_queue", user)


def require_queue(user: Any) -> None:
    require(user, "cases.view_queue", _("Очередь видят только старшие смены и руководители."))


def require_subscriber_lookup(user: Any) -> None:
    require(user, "cases.view_subscriber")


def may_see_personal_data(user: Any) -> bool:
    """Subscribers' numbers and names in full on every page, API answer and export."""
    return rules.has_perm("cases.view_personal_data", user)


def must_send_idempotency_key(user: Any, *, by_token: bool) -> bool:
    """Machines retry on their own: a case opening with an API token (an integration's, or a
    person's script) must carry a key; a staff session (the docs page, a browser) need not."""
    return by_token or rules.test_rule("cases.is_integration", user)
