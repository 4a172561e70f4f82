from __future__ import annotations

import uuid
from typing import NamedTuple

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from playbooks.models import Step
from reminders.models import Reminder
from reminders.selectors import reminder_get_for_case, reminder_is_cancellable, reminders_for_case
from reminders.services import (
    ReminderConflict,
    reminder_cancel,
    reminder_check_can_change,
    reminder_schedule_manual,
)

from .forms import (
    AssignForm,
    AvailabilityForm,
    CaseFilterForm,
    IdentifierForm,
    NewContactForm,
    NoteForm,
    ReminderForm,
    StatusForm,
    StepForm,
    specialists_queryset,
)
from .models import Case, ScammerIdentifier, StepOutcome
from .roles import Role, user_roles
from .selectors import (
    CaseFilters,
    case_get_detail,
    case_list,
    case_steps,
    identifiers_for_case,
    queue_unassigned,
    staff_load,
    subscriber_find,
    subscriber_history,
)
from .services import (
    CaseConflict,
    case_add_identifier,
    case_add_note,
    case_assign,
    case_open,
    case_record_step,
    case_set_status,
    cases_auto_assign,
    default_time_zone,
    normalize_msisdn,
    staff_profile_for,
    staff_set_availability,
    subscriber_card_accessed,
)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    roles = user_roles(request.user)
    if Role.SPECIALIST in roles:
        return redirect("cases:mine")
    if Role.SUPERVISOR in roles or Role.MANAGER in roles:
        return redirect("cases:queue")
    return render(request, "cases/home.html", {"recent": []})


def lockout(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes: too many failed logins for this login from this address."""
    minutes = int(settings.AXES_COOLOFF_TIME * 60)
    return render(
        request,
        "registration/lockout.html",
        {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )


# --- Access helpers ---------------------------------------------------------------------------


def _require_staff(request: HttpRequest) -> frozenset[str]:
    roles = user_roles(request.user)
    if not roles & {Role.SPECIALIST, Role.SUPERVISOR, Role.MANAGER}:
        raise PermissionDenied(_("Нет доступа к рабочему месту."))
    return roles


def _get_case_for_user(request: HttpRequest, pk: int, *, change: bool = False) -> Case:
    """The case with everything its page shows; 404 if missing, 403 if the user may not."""
    _require_staff(request)
    try:
        case = case_get_detail(case_id=pk)
    except Case.DoesNotExist:
        raise Http404(_("Обращение не найдено.")) from None
    if change and not request.user.has_perm("cases.change_case", case):
        raise PermissionDenied(_("Это обращение может менять только его исполнитель."))
    return case


def _require_supervisor(request: HttpRequest) -> None:
    if not request.user.has_perm("cases.assign_case"):
        raise PermissionDenied(_("Это действие доступно только старшему смены."))


# --- New contact ------------------------------------------------------------------------------


@login_required
def case_new(request: HttpRequest) -> HttpResponse:
    _require_staff(request)
    if not request.user.has_perm("cases.add_case"):
        raise PermissionDenied(_("Открывать обращения могут специалисты и старшие смены."))
    form = NewContactForm(request.POST or None)
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


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _clock(zone) -> str:
    """The wall clock in a zone, as text: templates would convert a datetime back to ours."""
    return timezone.localtime(timezone=zone).strftime("%H:%M")


def _subscriber_card_context(request: HttpRequest, phone: str) -> dict:
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
def subscriber_card(request: HttpRequest) -> HttpResponse:
    """htmx: the card for the number being typed on the new contact screen."""
    _require_staff(request)
    if not request.user.has_perm("cases.view_subscriber"):
        raise PermissionDenied
    context = _subscriber_card_context(request, request.GET.get("phone", ""))
    context["form"] = NewContactForm(initial={"time_zone": context.get("suggested_tz")})
    context["oob"] = True
    return render(request, "cases/_subscriber_card.html", context)


# --- The case page ----------------------------------------------------------------------------


def _render_case(
    request: HttpRequest,
    case: Case,
    *,
    status_form: StatusForm | None = None,
    note_form: NoteForm | None = None,
    identifier_form: IdentifierForm | None = None,
    reminder_form: ReminderForm | None = None,
    conflict: str = "",
    http_status: int = 200,
) -> HttpResponse:
    profile = staff_profile_for(request.user)
    can_change = request.user.has_perm("cases.change_case", case)
    can_assign = request.user.has_perm("cases.assign_case")
    context = {
        "case": case,
        "steps": case_steps(case=case),
        "identifiers": identifiers_for_case(case=case),
        "events": list(case.events.all()),
        "can_change": can_change,
        "can_assign": can_assign,
        "can_take": case.assignee_id is None
        and request.user.has_perm("cases.add_case")
        and not can_assign,
        "staff_tz": profile.time_zone,
        "subscriber_now": _clock(case.subscriber.time_zone),
        "status_form": status_form
        or StatusForm(case=case, initial={"version": case.version, "outcome": case.outcome}),
        "note_form": note_form or NoteForm(),
        "identifier_form": identifier_form or IdentifierForm(),
        "specialists": list(specialists_queryset()) if can_assign else [],
        "conflict": conflict,
        "step_results": StepOutcome.Result.choices,
        **_reminders_context(case, form=reminder_form),
    }
    return render(request, "cases/detail.html", context, status=http_status)


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
    request: HttpRequest,
    pk: int,
    *,
    form: ReminderForm | None = None,
    error: str = "",
    http_status: int = 200,
) -> HttpResponse:
    """htmx: the SMS panel again, plus the timeline out of band (it got an event)."""
    case = case_get_detail(case_id=pk)
    context = {
        "case": case,
        "can_change": True,
        "events": list(case.events.all()),
        "staff_tz": staff_profile_for(request.user).time_zone,
        "oob": True,
        **_reminders_context(case, form=form, error=error),
    }
    return render(request, "cases/_reminders.html", context, status=http_status)


@login_required
@require_GET
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_case(request, _get_case_for_user(request, pk))


@login_required
@require_POST
def case_step(request: HttpRequest, pk: int, step_id: int) -> HttpResponse:
    """Record a step outcome in place: htmx gets the row back (plus the new case version and
    the timeline, swapped out of band); a plain POST is redirected back to the page."""
    case = _get_case_for_user(request, pk, change=True)
    step = get_object_or_404(Step, pk=step_id, version_id=case.playbook_version_id)
    form = StepForm(request.POST)
    error = ""
    if not case.is_open:
        error = _("Обращение закрыто: чтобы менять шаги, верните его в работу.")
    elif form.is_valid():
        try:
            case_record_step(
                case=case,
                step=step,
                result=form.cleaned_data["result"],
                note=form.cleaned_data["note"],
                actor=request.user,
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = _("Выберите результат шага.")
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("cases:detail", pk=pk)
    case = case_get_detail(case_id=pk)
    row = next(r for r in case_steps(case=case) if r.step.pk == step.pk)
    return render(
        request,
        "cases/_step_row.html",
        {
            "case": case,
            "row": row,
            "events": list(case.events.all()),
            "can_change": True,
            "step_error": error,
            "step_results": StepOutcome.Result.choices,
            "staff_tz": staff_profile_for(request.user).time_zone,
            "oob": True,
        },
        # 422, not 400: the case page tells htmx to swap 409/422 in place (see detail.html).
        status=422 if error else 200,
    )


def _sms_refusal(case: Case) -> str:
    if case.subscriber.sms_opt_out:
        return _("Абонент отказался от SMS («СТОП»): сообщения ему не отправляются.")
    if not case.is_open:
        return _("Обращение закрыто: SMS не запланировать.")
    return ""


@login_required
@require_POST
def case_reminder_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    """Schedule a specialist's SMS; htmx gets the SMS panel back, a plain POST a redirect
    (or the page with the form's errors)."""
    case = _get_case_for_user(request, pk, change=True)
    reminder_check_can_change(user=request.user, case=case)
    form = ReminderForm(request.POST)
    created = False
    if refusal := _sms_refusal(case):
        form.is_valid()
        form.add_error(None, refusal)
    elif form.is_valid():
        d = form.cleaned_data
        try:
            _reminder, created = reminder_schedule_manual(
                case=case,
                text=d["text"],
                send_after=form.send_after(),
                request_id=str(d["request_id"]),
                actor=request.user,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        except ReminderConflict as exc:
            form.add_error(None, str(exc))
    if form.errors:
        if request.htmx:
            # 422 for the in-place form errors: the case page tells htmx to swap it (a 4xx is
            # otherwise not swapped, and in DEBUG django-htmx would replace the page with it).
            return _render_reminders(request, pk, form=form, http_status=422)
        return _render_case(request, case, reminder_form=form, http_status=400)
    if not request.htmx:
        if created:
            messages.success(request, _("SMS запланировано."))
        return redirect(reverse("cases:detail", args=[pk]) + "#sms")
    return _render_reminders(request, pk)


@login_required
@require_POST
def case_reminder_cancel(request: HttpRequest, pk: int, reminder_id: int) -> HttpResponse:
    case = _get_case_for_user(request, pk, change=True)
    reminder_check_can_change(user=request.user, case=case)
    reminder = reminder_get_for_case(case_id=case.pk, reminder_id=reminder_id)
    if reminder is None:
        raise Http404(_("SMS не найдено."))
    error = ""
    try:
        reminder_cancel(reminder=reminder, actor=request.user, reason="manual")
    except ReminderConflict as exc:
        error = str(exc)
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(reverse("cases:detail", args=[pk]) + "#sms")
    return _render_reminders(request, pk, error=error, http_status=409 if error else 200)


@login_required
@require_POST
def case_note(request: HttpRequest, pk: int) -> HttpResponse:
    case = _get_case_for_user(request, pk, change=True)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            case_add_note(case=case, actor=request.user, text=form.cleaned_data["text"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return redirect(reverse("cases:detail", args=[pk]) + "#timeline")
    return _render_case(request, case, note_form=form, http_status=400)


@login_required
@require_POST
def case_identifier(request: HttpRequest, pk: int) -> HttpResponse:
    case = _get_case_for_user(request, pk, change=True)
    form = IdentifierForm(request.POST)
    if form.is_valid():
        try:
            case_add_identifier(case=case, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return redirect(reverse("cases:detail", args=[pk]) + "#identifiers")
    return _render_case(request, case, identifier_form=form, http_status=400)


@login_required
@require_POST
def case_status(request: HttpRequest, pk: int) -> HttpResponse:
    case = _get_case_for_user(request, pk, change=True)
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
        except CaseConflict:
            return _render_case(
                request,
                case_get_detail(case_id=pk),
                conflict=_(
                    "Пока вы смотрели страницу, обращение изменил другой сотрудник. "
                    "Ваши изменения не сохранены: проверьте актуальные данные и повторите."
                ),
                http_status=409,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Статус изменён."))
            return redirect("cases:detail", pk=pk)
    return _render_case(request, case, status_form=form, http_status=400)


@login_required
@require_POST
def case_take(request: HttpRequest, pk: int) -> HttpResponse:
    """A specialist takes an unassigned case for themself."""
    case = _get_case_for_user(request, pk, change=True)
    try:
        case_assign(
            case=case,
            assignee=request.user,
            actor=request.user,
            expected_version=_int(request.POST.get("version")),
        )
    except CaseConflict:
        messages.error(request, _("Обращение уже изменил другой сотрудник. Обновите страницу."))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    return redirect("cases:detail", pk=pk)


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


# --- Lists ------------------------------------------------------------------------------------


def _case_list(request: HttpRequest, *, mine: bool) -> HttpResponse:
    _require_staff(request)
    staff = list(specialists_queryset())
    # "My cases" opens on the open ones; the form shows that default.
    initial = {"status": "open"} if mine else {}
    form = CaseFilterForm(request.GET or None, staff=staff, initial=initial)
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
        page = case_list(filters=filters, cursor=request.GET.get("after", ""))
    params = request.GET.copy()
    params.pop("after", None)
    return render(
        request,
        "cases/list.html",
        {
            "form": form,
            "page": page,
            "mine": mine,
            "identifier": identifier,
            "query": params.urlencode(),
            "can_assign": request.user.has_perm("cases.assign_case"),
            "specialists": staff,
            "now": timezone.now(),
        },
        status=200 if page is not None else 400,
    )


@login_required
@require_GET
def case_list_mine(request: HttpRequest) -> HttpResponse:
    return _case_list(request, mine=True)


@login_required
@require_GET
def case_list_all(request: HttpRequest) -> HttpResponse:
    return _case_list(request, mine=False)


# --- Supervisor queue -------------------------------------------------------------------------


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("cases.view_queue"):
        raise PermissionDenied(_("Очередь видят только старшие смены и руководители."))
    staff = staff_load()
    now = timezone.now()
    return render(
        request,
        "cases/queue.html",
        {
            "board": queue_unassigned(limit=100),
            "staff": staff,
            "specialists": staff,
            "can_assign": request.user.has_perm("cases.assign_case"),
            "now": now,
        },
    )


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


@login_required
@require_POST
def queue_assign(request: HttpRequest) -> HttpResponse:
    """Assign (or reassign, or return to the queue) the checked cases."""
    _require_supervisor(request)
    form = AssignForm(request.POST)
    if not form.is_valid():
        for error in form.errors.values():
            messages.error(request, " ".join(error))
        return _back(request, "cases:queue")
    assignee = form.cleaned_data["assignee"]
    versions = {int(k[2:]): _int(v) for k, v in request.POST.items() if k.startswith("v_")}
    done, conflicts = 0, []
    for case in Case.objects.filter(pk__in=form.cleaned_data["cases"]).order_by("pk"):
        try:
            case_assign(
                case=case,
                assignee=assignee,
                actor=request.user,
                expected_version=versions.get(case.pk),
            )
            done += 1
        except CaseConflict:
            conflicts.append(case.number)
    if done:
        who = assignee.get_full_name() or assignee.username if assignee else _("очередь")
        messages.success(request, _("Назначено: %(n)d → %(who)s.") % {"n": done, "who": who})
    if conflicts:
        messages.error(
            request,
            _("Не назначены, их уже изменил другой сотрудник: %(numbers)s.")
            % {"numbers": ", ".join(conflicts)},
        )
    return _back(request, "cases:queue")


@login_required
@require_POST
def queue_auto_assign(request: HttpRequest) -> HttpResponse:
    _require_supervisor(request)
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
def queue_availability(request: HttpRequest) -> HttpResponse:
    _require_supervisor(request)
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
    return redirect(reverse("cases:queue") + "#staff")
