from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from deliveries import push
from fraudcenter.requests import StaffRequest
from fraudcenter.shared_parts import shared_part
from reminders.access import access_reminder
from reminders.models import Reminder
from reminders.selectors import reminder_is_cancellable, reminders_for_case
from reminders.services import ReminderConflict

from .access import (
    CaseAction,
    access_case,
    access_case_step,
    access_chat_message,
    access_suggestion,
    may,
    may_assign,
    may_see_personal_data,
    may_see_queue,
    may_set_absence,
    may_take,
    require_open_case,
    require_queue,
    require_subscriber_lookup,
    require_supervisor,
    require_workspace,
    visible_cases,
)
from .forms import (
    AbsenceForm,
    AssignForm,
    AvailabilityForm,
    CaseFilterForm,
    ChatReplyForm,
    IdentifierForm,
    NewContactForm,
    NoteForm,
    ReminderForm,
    SmsCancelForm,
    StaffFilterForm,
    StatusForm,
    StepForm,
    SuggestionForm,
    TakeForm,
    specialists_queryset,
)
from .models import Absence, Case, CaseEvent, Channel, ScammerIdentifier, StepOutcome
from .phones import default_time_zone, normalize_msisdn
from .roles import Role, user_roles
from .selectors import (
    CaseFilters,
    StepRow,
    case_list,
    case_list_rows,
    case_steps,
    chat_messages_for_case,
    current_absence,
    identifiers_for_case,
    queue_unassigned,
    staff_load,
    staff_page,
    subscriber_find,
    subscriber_history,
)
from .services import (
    CaseConflict,
    assignment_warnings,
    case_add_identifier,
    case_add_note,
    case_assign,
    case_chat_reply,
    case_chat_resend,
    case_open,
    case_record_step,
    case_resolve_suggestion,
    case_set_status,
    case_sms_cancel,
    case_sms_schedule,
    cases_assign,
    cases_auto_assign,
    chat_left_message,
    chat_replies_enabled,
    staff_end_absence,
    staff_set_absence,
    staff_set_availability,
    staff_time_zone,
)
from .services import (
    case_take_next as take_next_case,
)
from .subscribers import subscriber_card_accessed

# What a stale write says on every staff form; the API answers 412 instead.
CONFLICT_MESSAGE = _(
    "Пока вы смотрели страницу, обращение изменил другой сотрудник. "
    "Ваши изменения не сохранены: проверьте актуальные данные и повторите."
)


@login_required
def home(request: StaffRequest) -> HttpResponse:
    roles = user_roles(request.user)
    if Role.SPECIALIST in roles:
        return redirect("cases:mine")
    if Role.SUPERVISOR in roles or Role.MANAGER in roles:
        return redirect("cases:queue")
    return render(request, "cases/home.html", {"recent": []})


def lockout(
    request: HttpRequest, original_response: object = None, credentials: object = None
) -> HttpResponse:
    """django-axes: too many failed logins for this login from this address."""
    minutes = int(settings.AXES_COOLOFF_TIME * 60)
    return render(
        request,
        "registration/lockout.html",
        {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )


# --- Access ---------------------------------------------------------------------------------


def _case(request: StaffRequest, pk: int, for_: CaseAction = CaseAction.VIEW) -> Case:
    """The case with everything its page shows, if this person may do `for_` to it (the
    access module answers 404 or 403)."""
    require_workspace(request.user)
    return access_case(request.user, pk, for_=for_, queryset=Case.objects.for_detail())


def _case_to_write(request: StaffRequest, pk: int, for_: CaseAction) -> Case:
    """The case for a write, if this person may do `for_` to it: one query. The service locks
    and re-reads it; the answer is drawn from `_current()` after the write, so the page's
    prefetches are not loaded here for nothing."""
    require_workspace(request.user)
    return access_case(request.user, pk, for_=for_)


def _current(pk: int) -> Case:
    """The case as it is now, for the page after a write or a refusal."""
    return Case.objects.for_detail().get(pk=pk)


def _current_for_panel(pk: int) -> Case:
    """The case as it is now, for a part of its page answered in place (two queries)."""
    return Case.objects.for_panel().get(pk=pk)


def _conflict_message(exc: CaseConflict) -> str:
    return str(CONFLICT_MESSAGE)


# --- New contact ------------------------------------------------------------------------------


@login_required
def case_new(request: StaffRequest) -> HttpResponse:
    require_workspace(request.user)
    require_open_case(request.user)
    # From a screen pop: /cases/new/?phone=…&call=<callId> fills the number and the call.
    initial = {"phone": request.GET.get("phone", ""), "call_id": request.GET.get("call", "")}
    form = NewContactForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            case = case_open(
                actor=request.user,
                channel=d["channel"],
                category=d["category"],
                phone=d["phone"],
                summary=d["summary"],
                description=d["description"],
                time_zone=d["time_zone"] or None,
                code_disclosed=d["code_disclosed"],
                password_disclosed=d["password_disclosed"],
                personal_data_disclosed=d["personal_data_disclosed"],
                money_lost=d["money_lost"],
                money_amount=d["money_amount"],
                external_id=d["call_id"],
                # Whoever takes the call works the case.
                assignee=request.user,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Обращение %(n)s открыто.") % {"n": case.number})
            return redirect("cases:detail", pk=case.pk)
    card = _subscriber_card_context(request, form["phone"].value() or "")
    return render(
        request,
        "cases/new.html",
        {"form": form, **card},
        status=400 if form.errors else 200,
    )


def _clock(zone) -> str:
    """The wall clock in a zone, as text: templates would convert a datetime back to ours."""
    return timezone.localtime(timezone=zone).strftime("%H:%M")


def _subscriber_card_context(request: StaffRequest, phone: str) -> dict:
    """What the card shows for a typed number: nothing yet, a bad number, a new or known one."""
    context: dict = {"phone_typed": bool(phone.strip()), "phone_error": "", "history": None}
    if not phone.strip():
        return context
    try:
        subscriber = subscriber_find(phone=phone)
    except ValidationError as exc:
        digits = sum(ch.isdigit() for ch in phone)
        context["phone_error"] = (
            _("Введите номер полностью: 10 цифр после +7 или 8.")
            if digits < 10
            else exc.messages[0]
        )
        return context
    if subscriber is None:
        msisdn = normalize_msisdn(phone)
        context["new_msisdn"] = msisdn
        context["suggested_tz"] = default_time_zone(msisdn)
        return context
    subscriber_card_accessed(subscriber=subscriber)
    history = subscriber_history(subscriber=subscriber)
    context["history"] = history
    context["subscriber_now"] = _clock(subscriber.time_zone)
    return context


@login_required
@require_GET
def subscriber_card(request: StaffRequest) -> HttpResponse:
    """htmx: the card for the number being typed on the new contact screen."""
    require_workspace(request.user)
    require_subscriber_lookup(request.user)
    context = _subscriber_card_context(request, request.GET.get("phone", ""))
    context["form"] = NewContactForm(initial={"time_zone": context.get("suggested_tz")})
    context["oob"] = True
    return render(request, "cases/_subscriber_card.html", context)


# --- The case page ----------------------------------------------------------------------------


def _render_case(
    request: StaffRequest,
    case: Case,
    *,
    status_form: StatusForm | None = None,
    note_form: NoteForm | None = None,
    identifier_form: IdentifierForm | None = None,
    reminder_form: ReminderForm | None = None,
    chat_form: ChatReplyForm | None = None,
    step_error: str = "",
    error_step_id: int | None = None,
    typed_note: str | None = None,
    conflict: str = "",
    http_status: int = 200,
) -> HttpResponse:
    """The case page; after a refusal, with the person's typed input in its forms and the
    case as it is now (the version fields then carry the current version)."""
    can_change = may(request.user, CaseAction.CHANGE, case)
    can_assign = may_assign(request.user)
    steps = case_steps(case=case)
    context = {
        "case": case,
        "steps": steps,
        "identifiers": identifiers_for_case(case=case),
        "events": list(case.events.all()),
        "can_change": can_change,
        "can_assign": can_assign,
        "can_take": may_take(request.user, case) and not can_assign,
        "staff_tz": staff_time_zone(request.user),
        "subscriber_now": _clock(case.subscriber.time_zone),
        "status_form": status_form
        or StatusForm(case=case, initial={"version": case.version, "outcome": case.outcome}),
        "note_form": note_form or NoteForm(),
        "identifier_form": identifier_form or IdentifierForm(),
        "conflict": conflict,
        "step_results": StepOutcome.Result.choices,
        "step_error": step_error,
        "error_step_id": error_step_id,
        "typed_note": typed_note,
        # A refused POST answers with the page at the form's URL (/cases/N/status/); the
        # address bar is put back to the case's own (static/js/app.js), so a reload shows it.
        "canonical_url": reverse("cases:detail", args=[case.pk]),
        **_reminders_context(case, form=reminder_form),
        **_chat_context(request, case, steps, form=chat_form),
    }
    return render(request, "cases/detail.html", context, status=http_status)


# --- The case's chat --------------------------------------------------------------------------


def _new_chat_form(case: Case) -> ChatReplyForm:
    # A fresh request id per rendered form: Ctrl+Enter twice is one message.
    return ChatReplyForm(initial={"request_id": uuid.uuid4(), "version": case.version})


def _chat_context(
    request: StaffRequest, case: Case, steps: list | None = None, *, form=None
) -> dict:
    """The conversation (two queries) and, for whoever may answer, the reply box with the
    current step's «Скажите абоненту» words to insert."""
    # The prefetched lines (Case.objects.for_detail) or one EXISTS.
    if case.channel != Channel.CHAT and not case.messages.all():
        return {"chat_shown": False}
    # A closed case keeps its conversation; the box is for cases still being worked.
    can_reply = (
        case.is_open and chat_replies_enabled() and may(request.user, CaseAction.REPLY, case)
    )
    script = ""
    if can_reply:
        steps = case_steps(case=case) if steps is None else steps
        current = next((r.step for r in steps if r.outcome is None and r.step.script), None)
        script = current.script if current else ""
    return {
        "chat_shown": True,
        "chat_messages": chat_messages_for_case(case_id=case.pk),
        "chat_left": case.subscriber_left_chat,
        "chat_left_message": chat_left_message(case) if case.subscriber_left_chat else "",
        "can_reply": can_reply,
        "can_resend": may(request.user, CaseAction.RESEND, case),
        "chat_form": form or _new_chat_form(case),
        "chat_script": script,
        "chat_poll_ms": int(settings.CHAT_POLL_SECONDS * 1000),
        # This page also listens to its case: a new line or a reply's delivery state.
        "push_url": push.url_for([f"pop:{request.user.pk}", f"case:{case.pk}"]),
    }


def _render_chat(
    request: StaffRequest,
    pk: int,
    *,
    form: ChatReplyForm | None = None,
    error: str = "",
    http_status: int = 200,
) -> HttpResponse:
    def panel(case: Case) -> dict:
        return {"chat_error": error, **_chat_context(request, case, form=form)}

    return _render_panel(request, pk, "cases/_chat.html", panel, http_status)


@login_required
@require_GET
def case_chat_log(request: StaffRequest, pk: int) -> HttpResponse:
    """htmx polling: the conversation with each reply's delivery state."""
    require_workspace(request.user)
    case = access_case(request.user, pk, queryset=Case.objects.select_related("subscriber"))
    context = {
        "case": case,
        "staff_tz": staff_time_zone(request.user),
        **_chat_context(request, case, []),
    }
    return render(request, "cases/_chat_log.html", context)


@login_required
@require_POST
def case_chat_reply_view(request: StaffRequest, pk: int) -> HttpResponse:
    """Send a reply: htmx gets the chat card back with the message in it; a plain POST a
    redirect, or the page with the form's errors and the typed text."""
    case = _case_to_write(request, pk, CaseAction.REPLY)
    form = ChatReplyForm(request.POST)
    status = 422
    if form.is_valid():
        d = form.cleaned_data
        try:
            case_chat_reply(
                case=case,
                text=d["text"],
                request_id=str(d["request_id"]),
                actor=request.user,
                expected_version=d["version"],
            )
        except CaseConflict as exc:
            form.add_error(None, _conflict_message(exc))
            status = 409
        except ValidationError as exc:
            _add_errors(form, exc)
    if form.errors:
        if request.htmx:
            return _render_chat(request, pk, form=form, http_status=status)
        return _render_case(
            request, _current(pk), chat_form=form, http_status=409 if status == 409 else 400
        )
    if not request.htmx:
        return redirect(reverse("cases:detail", args=[pk]) + "#chat")
    return _render_chat(request, pk)


@login_required
@require_POST
def case_suggestion(request: StaffRequest, pk: int, suggestion_id: int) -> HttpResponse:
    """One click on an identifier found in the case's texts: add it, or dismiss it."""
    case = _case_to_write(request, pk, CaseAction.WORK)
    suggestion = access_suggestion(case, suggestion_id)
    form = SuggestionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
    else:
        try:
            case_resolve_suggestion(
                case=case, suggestion=suggestion, accept=form.cleaned_data["action"] == "add",
                actor=request.user, expected_version=form.cleaned_data["version"],
            )  # fmt: skip
        except CaseConflict as exc:
            messages.error(request, _conflict_message(exc))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect(reverse("cases:detail", args=[pk]) + "#identifiers")


@login_required
@require_POST
def case_chat_resend_view(request: StaffRequest, pk: int, message_id: int) -> HttpResponse:
    """A supervisor sends a reply the chat backend refused once more."""
    case = _case_to_write(request, pk, CaseAction.RESEND)
    message = access_chat_message(case, message_id)
    error = ""
    try:
        case_chat_resend(case=case, message=message, actor=request.user)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(reverse("cases:detail", args=[pk]) + "#chat")
    return _render_chat(request, pk, error=error, http_status=409 if error else 200)


class ReminderRow(NamedTuple):
    reminder: Reminder
    cancellable: bool


def _new_reminder_form() -> ReminderForm:
    # A fresh request id per rendered form: submitting the same form twice is one SMS.
    return ReminderForm(initial={"request_id": uuid.uuid4(), "delay": 0})


def _reminders_context(case: Case, *, form: ReminderForm | None = None, error: str = "") -> dict:
    """The SMS panel: the case's reminders (one query) and the form to schedule one."""
    reminders = list(reminders_for_case(case_id=case.pk))
    return {
        "reminders": [ReminderRow(r, reminder_is_cancellable(r)) for r in reminders],
        "reminder_form": form or _new_reminder_form(),
        "reminder_error": error,
        "sms_max_parts": settings.SMS_MAX_PARTS,
    }


def _render_reminders(
    request: StaffRequest,
    pk: int,
    *,
    form: ReminderForm | None = None,
    error: str = "",
    http_status: int = 200,
) -> HttpResponse:
    def panel(case: Case) -> dict:
        return _reminders_context(case, form=form, error=error)

    return _render_panel(request, pk, "cases/_reminders.html", panel, http_status)


def _render_panel(
    request: StaffRequest,
    pk: int,
    template: str,
    panel: Callable[[Case], dict],
    http_status: int,
) -> HttpResponse:
    """htmx: one panel of the case page again (the SMS, the chat), plus the timeline and the
    case version out of band, from the case as it is now."""
    case = _current_for_panel(pk)
    context = {
        "case": case,
        "can_change": True,
        "events": list(case.events.all()),
        "staff_tz": staff_time_zone(request.user),
        "oob": True,
        **panel(case),
    }
    return render(request, template, context, status=http_status)


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _form_errors(form: forms.Form) -> str:
    return " ".join(str(m) for errors in form.errors.values() for m in errors)


@login_required
@require_GET
def case_detail(request: StaffRequest, pk: int) -> HttpResponse:
    return _render_case(request, _case(request, pk))


@login_required
@require_POST
def case_step(request: StaffRequest, pk: int, step_id: int) -> HttpResponse:
    """Record a step outcome in place: htmx gets the row back (plus the new case version and
    the timeline, swapped out of band); a plain POST gets the page (or a redirect)."""
    case = _case_to_write(request, pk, CaseAction.WORK)
    step = access_case_step(case, step_id)
    form = StepForm(request.POST)
    error, status, outcome = "", 200, None
    if form.is_valid():
        try:
            outcome = case_record_step(
                case=case,
                step=step,
                result=form.cleaned_data["result"],
                note=form.cleaned_data["note"],
                actor=request.user,
                expected_version=form.cleaned_data["version"],
            )
        except CaseConflict as exc:
            error, status = _conflict_message(exc), 409
        except ValidationError as exc:
            error, status = " ".join(exc.messages), 422
    else:
        error, status = _form_errors(form), 422
    # After a refusal the comment typed stays in its field.
    typed = request.POST.get("note", "") if error else None
    if not request.htmx:
        if not error:
            return redirect(reverse("cases:detail", args=[pk]) + f"#step-{step.pk}")
        return _render_case(
            request,
            _current(pk),
            step_error=error,
            error_step_id=step.pk,
            typed_note=typed,
            conflict=error if status == 409 else "",
            http_status=status,
        )
    if outcome is not None:  # recorded: the case as the write left it (its new version)
        case = outcome.case
        events = list(CaseEvent.objects.timeline().filter(case=case))
    else:  # refused: as it is now (someone else's write may be why)
        case = _current_for_panel(pk)
        events = list(case.events.all())
        outcome = StepOutcome.objects.select_related("actor").filter(case=case, step=step).first()
    return render(
        request,
        "cases/_step_row.html",
        {
            "case": case,
            "row": StepRow(step=step, outcome=outcome),
            "events": events,
            "can_change": True,
            "step_error": error,
            "error_step_id": step.pk,
            "typed_note": typed,
            "step_results": StepOutcome.Result.choices,
            "staff_tz": staff_time_zone(request.user),
            "oob": True,
        },
        # 409/422, not 400: the case page tells htmx to swap those in place (see detail.html).
        status=status,
    )


@login_required
@require_POST
def case_reminder_schedule(request: StaffRequest, pk: int) -> HttpResponse:
    """Schedule a specialist's SMS; htmx gets the SMS panel back, a plain POST a redirect
    (or the page with the form's errors). Every refusal is the service's."""
    case = _case_to_write(request, pk, CaseAction.REMINDERS)
    form = ReminderForm(request.POST)
    created, status = False, 422
    if form.is_valid():
        d = form.cleaned_data
        try:
            _reminder, created = case_sms_schedule(
                case=case,
                text=d["text"],
                send_after=form.send_after(),
                request_id=str(d["request_id"]),
                actor=request.user,
                expected_version=d["version"],
            )
        except CaseConflict as exc:
            form.add_error(None, _conflict_message(exc))
            status = 409
        except ValidationError as exc:
            _add_errors(form, exc)
        except ReminderConflict as exc:
            form.add_error(None, str(exc))
    if form.errors:
        if request.htmx:
            # 409/422 for the in-place form errors: the case page tells htmx to swap them (a
            # 4xx is otherwise not swapped, and in DEBUG django-htmx would replace the page).
            return _render_reminders(request, pk, form=form, http_status=status)
        return _render_case(
            request, _current(pk), reminder_form=form, http_status=409 if status == 409 else 400
        )
    if not request.htmx:
        if created:
            messages.success(request, _("SMS запланировано."))
        return redirect(reverse("cases:detail", args=[pk]) + "#sms")
    return _render_reminders(request, pk)


@login_required
@require_POST
def case_reminder_cancel(request: StaffRequest, pk: int, reminder_id: int) -> HttpResponse:
    require_workspace(request.user)
    case, reminder = access_reminder(request.user, pk, reminder_id)
    form = SmsCancelForm(request.POST)
    error = ""
    if not form.is_valid():
        error = _form_errors(form)
    else:
        try:
            case_sms_cancel(
                case=case,
                reminder=reminder,
                actor=request.user,
                expected_version=form.cleaned_data["version"],
            )
        except CaseConflict as exc:
            error = _conflict_message(exc)
        except (ReminderConflict, ValidationError) as exc:
            error = " ".join(getattr(exc, "messages", [str(exc)]))
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(reverse("cases:detail", args=[pk]) + "#sms")
    return _render_reminders(request, pk, error=error, http_status=409 if error else 200)


@login_required
@require_POST
def case_note(request: StaffRequest, pk: int) -> HttpResponse:
    """A note; htmx gets the note box back (empty, or with the text typed and why it was
    refused) with the new version and the timeline; a plain POST the page (or a redirect)."""
    case = _case_to_write(request, pk, CaseAction.CHANGE)
    form = NoteForm(request.POST)
    conflict = ""
    if form.is_valid():
        try:
            note = case_add_note(
                case=case,
                actor=request.user,
                text=form.cleaned_data["text"],
                expected_version=form.cleaned_data["version"],
            )
        except CaseConflict as exc:
            conflict = _conflict_message(exc)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            if request.htmx:  # the case as the write left it (its new version)
                events = list(CaseEvent.objects.timeline().filter(case=note.case))
                return _note_box(request, note.case, events, NoteForm(), status=200)
            return redirect(reverse("cases:detail", args=[pk]) + "#timeline")
    status = 409 if conflict else 400
    if request.htmx:
        # 409/422: the case page tells htmx to swap those in place (see detail.html).
        current = _current_for_panel(pk)  # as it is now: someone else's write may be why
        return _note_box(
            request, current, list(current.events.all()), form, conflict,
            status=409 if conflict else 422,
        )  # fmt: skip
    return _render_case(
        request, _current(pk), note_form=form, conflict=conflict, http_status=status
    )


def _note_box(
    request: StaffRequest,
    case: Case,
    events: list[CaseEvent],
    form: NoteForm,
    conflict: str = "",
    *,
    status: int,
) -> HttpResponse:
    context = {
        "case": case,
        "note_form": form,
        "note_conflict": conflict,
        "events": events,
        "staff_tz": staff_time_zone(request.user),
        "oob": True,
    }
    return render(request, "cases/_note.html", context, status=status)


@login_required
@require_POST
def case_identifier(request: StaffRequest, pk: int) -> HttpResponse:
    case = _case_to_write(request, pk, CaseAction.WORK)
    form = IdentifierForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            case_add_identifier(
                case=case,
                actor=request.user,
                kind=d["kind"],
                value=d["value"],
                expected_version=d["version"],
            )
        except CaseConflict as exc:
            return _render_case(
                request, _current(pk), identifier_form=form, conflict=_conflict_message(exc),
                http_status=409,
            )  # fmt: skip
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return redirect(reverse("cases:detail", args=[pk]) + "#identifiers")
    return _render_case(request, _current(pk), identifier_form=form, http_status=400)


@login_required
@require_POST
def case_status(request: StaffRequest, pk: int) -> HttpResponse:
    case = _case_to_write(request, pk, CaseAction.CHANGE)
    form = StatusForm(request.POST, case=case)
    if form.is_valid():
        d = form.cleaned_data
        try:
            case_set_status(
                case=case,
                status=d["status"],
                outcome=d["outcome"],
                comment=d["comment"],
                actor=request.user,
                expected_version=d["version"],
            )
        except CaseConflict as exc:
            current = _current(pk)
            # The status form again with what was chosen and typed, for the current version.
            data = request.POST.copy()
            data["version"] = str(current.version)
            return _render_case(
                request,
                current,
                status_form=StatusForm(data, case=current),
                conflict=_conflict_message(exc),
                http_status=409,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Статус изменён."))
            return redirect("cases:detail", pk=pk)
    return _render_case(request, _current(pk), status_form=form, http_status=400)


@login_required
@require_POST
def case_take(request: StaffRequest, pk: int) -> HttpResponse:
    """A specialist takes an unassigned case for themself."""
    case = _case_to_write(request, pk, CaseAction.CHANGE)
    form = TakeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("cases:detail", pk=pk)
    try:
        case_assign(
            case=case,
            assignee=request.user,
            actor=request.user,
            expected_version=form.cleaned_data["version"],
        )
    except CaseConflict as exc:
        messages.error(request, _conflict_message(exc))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    return redirect("cases:detail", pk=pk)


@login_required
@require_POST
def case_take_next(request: StaffRequest) -> HttpResponse:
    """«Взять следующее» (Alt+G): the most urgent unassigned case, opened at once. A role
    that may not take cases gets the service's refusal as the Russian 403 page."""
    case = take_next_case(actor=request.user)
    if case is None:
        messages.info(request, _("Очередь пуста: неназначенных обращений нет."))
        return redirect("cases:mine")
    messages.success(request, _("Обращение %(number)s теперь ваше.") % {"number": case.number})
    return redirect("cases:detail", pk=case.pk)


def _int(raw: object) -> int | None:
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


# --- Lists ------------------------------------------------------------------------------------


def _case_list(request: StaffRequest, *, mine: bool) -> HttpResponse:
    require_workspace(request.user)
    can_assign = may_assign(request.user)
    # "My cases" opens on the open ones; the form shows that default.
    initial = {"status": "open"} if mine else {}
    form = CaseFilterForm(request.GET or None, initial=initial, by_assignee=not mine)
    page = None
    identifier = None
    if not request.GET or form.is_valid():
        if request.GET:
            filters = form.filters(user=request.user)
        else:
            filters = CaseFilters(status="open" if mine else "")
        if mine:
            filters.assignee_id, filters.unassigned = request.user.pk, False
        if filters.identifier_id:
            identifier = ScammerIdentifier.objects.filter(pk=filters.identifier_id).first()
        page = case_list(filters=filters, viewer=request.user, cursor=request.GET.get("after", ""))
    params = request.GET.copy()
    params.pop("after", None)
    return render(
        request,
        "cases/list.html",
        {
            "form": form,
            "page": page,
            "rows": case_list_rows(page.cases, masked=not may_see_personal_data(request.user))
            if page
            else [],
            "mine": mine,
            # «Мои обращения»: the specialist's own break, to take or to end (one query).
            "my_absence": current_absence(user=request.user)
            if mine and may_set_absence(request.user, request.user)
            else None,
            "can_set_absence": mine and may_set_absence(request.user, request.user),
            "identifier": identifier,
            "query": params.urlencode(),
            "can_assign": can_assign,
            "now": timezone.now(),
        },
        status=200 if page is not None else 400,
    )


@login_required
@require_GET
def case_list_mine(request: StaffRequest) -> HttpResponse:
    return _case_list(request, mine=True)


@login_required
@require_GET
def case_list_all(request: StaffRequest) -> HttpResponse:
    return _case_list(request, mine=False)


@login_required
@require_GET
def assignee_options(request: StaffRequest) -> HttpResponse:
    """The specialists for a select of them (the lists' assignee filter, the assignment, a
    planned absence), added to it when the person opens it, but the one already chosen, which
    it shows. With `load=1`, for those who see the queue, each one's load and shift."""
    require_workspace(request.user)
    selected = request.GET.get("selected", "")
    chosen = int(selected) if selected.isdigit() else None
    if request.GET.get("load") == "1" and may_see_queue(request.user):
        rows = [s for s in staff_load() if s.user.pk != chosen]
        return render(request, "cases/_assignee_options.html", {"specialists": rows, "load": True})
    staff = specialists_queryset().only("id", "username", "first_name", "last_name")
    if chosen is not None:
        staff = staff.exclude(pk=chosen)
    return render(request, "cases/_assignee_options.html", {"specialists": staff})


# --- Supervisor queue -------------------------------------------------------------------------


@login_required
@require_GET
def queue(request: StaffRequest) -> HttpResponse:
    require_queue(request.user)
    now = timezone.now()
    part = request.GET.get("part", "") if request.htmx else ""
    # The staff table's search, state and page: in the page's address and in its poll's.
    staff_form = StaffFilterForm(request.GET)
    valid = staff_form.is_valid()
    chosen = staff_form.cleaned_data if valid else {}
    staff_filter = {
        "search": chosen.get("q", ""),
        "show": chosen.get("show", ""),
        "page": chosen.get("page") or 1,
    }
    context: dict[str, Any] = {
        "can_assign": may_assign(request.user),
        "now": now,
        "refresh_seconds": settings.QUEUE_REFRESH_SECONDS,
        "staff_refresh_seconds": settings.QUEUE_STAFF_REFRESH_SECONDS,
        "staff_form": staff_form,
    }
    shown = (("q", staff_filter["search"]), ("show", staff_filter["show"]))
    query = urlencode({k: v for k, v in shown if v})
    # The table's poll and pages: its part with the search and state, a page number added.
    context["staff_part_url"] = (
        reverse("cases:queue") + "?part=staff" + (f"&{query}" if query else "")
    )
    context["staff_page_link"] = "?" + (f"{query}&" if query else "") + "page="
    # The staff's forms come back to the page they were on.
    back = urlencode({k: v for k, v in (*shown, ("page", staff_filter["page"])) if v and v != 1})
    context["staff_back"] = reverse("cases:queue") + (f"?{back}" if back else "") + "#staff"
    # The polls ask for their own part: the board every 10 s, the staff's load less often.
    if part == "rows":
        return _shared_part(request, "cases/_queue_poll.html", context, staff_filter=None)
    if part == "staff":
        if not valid:  # a hand-made address: the errors, and the table as it was stays
            context["staff_errors"] = True  # the form is not in this part: its errors are
            return render(request, "cases/_queue_staff_page.html", context, status=400)
        return _shared_part(
            request, "cases/_queue_staff_page.html", context, staff_filter=staff_filter
        )
    context.update(staff=staff_page(**staff_filter), board=queue_unassigned(limit=100))
    return render(request, "cases/queue.html", context, status=200 if valid else 400)


def _shared_part(
    request: StaffRequest,
    template: str,
    context: dict[str, Any],
    *,
    staff_filter: dict[str, Any] | None,
) -> HttpResponse:
    """A queue poll's part as every supervisor with the same rights sees it (may they assign,
    see personal data), rendered once per QUEUE_PART_CACHE_SECONDS for all of them: the board
    (no `staff_filter`) or a page of the staff table."""
    mask = not may_see_personal_data(request.user)
    vary: list[object] = [int(context["can_assign"]), int(mask)]

    def build() -> dict[str, Any]:
        if staff_filter is None:
            context["board"] = queue_unassigned(limit=100)
        else:
            context["staff"] = staff_page(**staff_filter)
        return {**context, "mask_personal_data": mask}

    if staff_filter is None:
        return shared_part(request, template, build, vary=vary)
    # The staff's load changes slowly: kept for half its refresh period. The full page
    # (after a supervisor's change) is always fresh. A search is in the key by its digest.
    search = hashlib.sha256(staff_filter["search"].encode()).hexdigest()[:16]
    vary += [staff_filter["show"], staff_filter["page"], search]
    seconds = max(settings.QUEUE_PART_CACHE_SECONDS, settings.QUEUE_STAFF_REFRESH_SECONDS // 2)
    return shared_part(request, template, build, vary=vary, seconds=seconds)


def _back(request: StaffRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


@login_required
@require_POST
def queue_assign(request: StaffRequest) -> HttpResponse:
    """Assign (or reassign, or return to the queue) the checked cases."""
    require_supervisor(request.user)
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _back(request, "cases:queue")
    assignee = form.cleaned_data["assignee"]
    versions = {
        int(k[2:]): _int(v) for k, v in request.POST.items() if _int(k[2:]) and k[:2] == "v_"
    }
    cases = list(visible_cases(request.user).filter(pk__in=form.cleaned_data["cases"]))
    warnings = (
        []
        if form.cleaned_data["confirm"]
        else assignment_warnings(assignee=assignee, adding=len(cases))
    )
    if warnings:
        # Away or over the cap: ask first, with every posted value kept for the confirmation.
        posted = [
            (k, v)
            for k, values in request.POST.lists()
            for v in values
            if k not in ("csrfmiddlewaretoken", "confirm")
        ]
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("cases:queue")
        return render(
            request,
            "cases/assign_confirm.html",
            {
                "warnings": warnings,
                "cases": cases,
                "assignee": assignee,
                "posted": posted,
                "back": back,
            },
        )
    result = cases_assign(cases=cases, assignee=assignee, actor=request.user, versions=versions)
    if result.assigned:
        who = assignee.get_full_name() or assignee.username if assignee else _("очередь")
        n = len(result.assigned)
        messages.success(request, _("Назначено: %(n)d → %(who)s.") % {"n": n, "who": who})
    if result.conflicts:
        messages.error(
            request,
            _("Не назначены, их уже изменил другой сотрудник: %(numbers)s.")
            % {"numbers": ", ".join(str(c) for c in result.conflicts)},
        )
    return _back(request, "cases:queue")


@login_required
@require_POST
def staff_absence(request: StaffRequest) -> HttpResponse:
    """A break («перерыв 15 минут»), back («вернулся») or a planned absence; from the queue
    (a supervisor, for anyone) or from «Мои обращения» (a specialist, for themself)."""
    require_workspace(request.user)
    form = AbsenceForm(request.POST)
    default = "cases:queue" if may_assign(request.user) else "cases:mine"
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _back(request, default)
    d = form.cleaned_data
    person = get_object_or_404(get_user_model(), pk=d["user"], is_active=True)
    try:
        if d["action"] == "back":
            staff_end_absence(actor=request.user, user=person)
            messages.success(request, _("Отмечено: снова на линии."))
        else:
            absence = staff_set_absence(
                actor=request.user,
                user=person,
                minutes=d["minutes"] if d["action"] == "break" else None,
                starts_at=d["starts_at"],
                ends_at=d["ends_at"],
                kind=Absence.Kind.BREAK if d["action"] == "break" else Absence.Kind.PLANNED,
                note=d["note"],
            )
            until = timezone.localtime(absence.ends_at).strftime("%d.%m %H:%M")
            messages.success(request, _("Отсутствие отмечено до %(until)s.") % {"until": until})
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _back(request, default)


@login_required
@require_POST
def queue_auto_assign(request: StaffRequest) -> HttpResponse:
    require_supervisor(request.user)
    assigned = cases_auto_assign(actor=request.user, limit=100)
    if assigned:
        messages.success(request, _("Распределено обращений: %(n)d.") % {"n": len(assigned)})
    else:
        messages.info(
            request, _("Распределять нечего: очередь пуста или у всех на смене полная загрузка.")
        )
    return redirect("cases:queue")


@login_required
@require_POST
def queue_availability(request: StaffRequest) -> HttpResponse:
    require_supervisor(request.user)
    form = AvailabilityForm(request.POST)
    if form.is_valid():
        user = get_object_or_404(get_user_model(), pk=form.cleaned_data["user"])
        try:
            staff_set_availability(
                actor=request.user, user=user, is_available=form.cleaned_data["is_available"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, _("Неверный запрос."))
    return _back(request, reverse("cases:queue") + "#staff")
