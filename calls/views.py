"""The PBX's push endpoint, the screen pop, and the callbacks' staff actions."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from cases.access import may_assign, may_see_personal_data, require_queue, require_supervisor
from cases.selectors import subscriber_history
from cases.services import CaseConflict
from fraudcenter.requests import StaffRequest
from fraudcenter.shared_parts import shared_part

from .access import require_work_callbacks
from .models import Callback, CallbackAttempt
from .selectors import open_callbacks, queue_callbacks
from .services import (
    callback_attempt,
    callbacks_auto_assign,
    calls_pop_for,
    cti_endpoint_for_token,
    cti_event_parse,
    cti_event_record,
)

MAX_BODY = 64 * 1024


def _payload(request: HttpRequest) -> dict[str, Any] | None:
    """Zammad's event as a form (`user[]` repeated) or as a JSON object."""
    if request.content_type == "application/json":
        try:
            parsed = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
        return parsed if isinstance(parsed, dict) else None
    form = request.POST
    data: dict[str, Any] = {k: form.get(k) for k in form if k != "user[]"}
    if "user[]" in form:
        data["user[]"] = form.getlist("user[]")
    return data


@csrf_exempt
@require_POST
def cti_push(request: HttpRequest, token: str) -> JsonResponse:
    """POST /api/v1/cti/<token>: 200 `{}` when applied (or already applied), 400 with the
    field's message for a malformed event, 404 for a token no PBX has."""
    endpoint = cti_endpoint_for_token(token)
    if endpoint is None:
        return JsonResponse({"detail": "Неизвестный адрес CTI."}, status=404)
    if len(request.body) > MAX_BODY:
        return JsonResponse({"detail": "Слишком большое событие."}, status=400)
    data = _payload(request)
    if data is None:
        return JsonResponse({"detail": "Тело — форма или JSON-объект."}, status=400)
    try:
        event = cti_event_parse(data)
        cti_event_record(endpoint=endpoint, event=event, payload=data)
    except ValidationError as exc:
        body = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return JsonResponse(body, status=400, json_dumps_params={"ensure_ascii": False})
    return JsonResponse({})


@login_required
@require_GET
def screen_pop(request: StaffRequest) -> HttpResponse:
    """Asked every SCREEN_POP_POLL_SECONDS by a staff page: 204 when nothing is new; the
    caller's card once, when this person has just answered a call. Only calls they answered
    are shown, so no role check is needed here (three queries: session, user, the call)."""
    call = calls_pop_for(user=request.user)
    if call is None:
        return HttpResponse(status=204)
    history = subscriber_history(subscriber=call.subscriber) if call.subscriber else None
    return render(request, "calls/_screen_pop.html", {"call": call, "history": history})


@login_required
@require_POST
def callback_attempt_view(request: StaffRequest, pk: int) -> HttpResponse:
    require_work_callbacks(request.user)
    callback = get_object_or_404(Callback, pk=pk)
    version = request.POST.get("version", "")
    try:
        callback_attempt(
            callback=callback,
            result=request.POST.get("result", ""),
            actor=request.user,
            expected_version=int(version) if version.isascii() and version.isdigit() else None,
        )
        messages.success(request, _("Попытка записана."))
    except CaseConflict:
        messages.error(request, _("Этот обратный звонок уже изменил другой сотрудник."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("calls:callbacks")
    return redirect(target)


@login_required
@require_GET
def callbacks_page(request: StaffRequest) -> HttpResponse:
    """«Перезвонить»: the open callbacks, the most overdue first, with their missed calls and
    attempts; each attempt logged in one click."""
    require_work_callbacks(request.user)
    return render(
        request,
        "calls/callbacks.html",
        {
            "callbacks": open_callbacks(limit=200),
            "results": CallbackAttempt.Result.choices,
            "now": timezone.now(),
        },
    )


@login_required
@require_GET
def queue_callbacks_view(request: StaffRequest) -> HttpResponse:
    """The queue board's «Перезвонить» section (loaded into /queue/ and refreshed with it)."""
    require_queue(request.user)
    can_assign = may_assign(request.user)
    mask = not may_see_personal_data(request.user)
    # Every supervisor polls it with the board: one rendering serves all with the same rights.
    return shared_part(
        request,
        "calls/_queue_callbacks.html",
        lambda: {
            "callbacks": queue_callbacks(),
            "can_assign": can_assign,
            "mask_personal_data": mask,
            "now": timezone.now(),
        },
        vary=(int(can_assign), int(mask)),
    )


@login_required
@require_POST
def callbacks_auto_assign_view(request: StaffRequest) -> HttpResponse:
    require_supervisor(request.user)
    assigned = callbacks_auto_assign(actor=request.user)
    if assigned:
        messages.success(request, _("Распределено обратных звонков: %(n)d.") % {"n": len(assigned)})
    else:
        messages.info(
            request, _("Распределять нечего: нет открытых перезвонов или у всех полная загрузка.")
        )
    return redirect(reverse("cases:queue") + "#callbacks")
