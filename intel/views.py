from __future__ import annotations

import csv
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cases.access import require_workspace
from cases.models import ScammerIdentifier
from fraudcenter.csv_cells import neutralise
from fraudcenter.requests import StaffRequest
from fraudcenter.shared_parts import shared_part

from . import selectors
from .access import require_review, require_waves
from .forms import DecisionForm
from .services import DecisionConflict, identifier_decide


def _kind(request: StaffRequest) -> str:
    kind = request.GET.get("kind", "")
    return kind if kind in ScammerIdentifier.Kind.values else ""


def _render_review(
    request: StaffRequest, *, error_for: int | None = None, error: str = "", typed: str = "",
    http_status: int = 200,
) -> HttpResponse:  # fmt: skip
    kind = _kind(request)
    candidates = selectors.review_candidates(kind=kind)
    decided = selectors.decided(kind=kind)
    history = selectors.identifier_history(identifier_ids=[i.pk for i in candidates + decided])
    for i in candidates + decided:
        i.history = history.get(i.pk, [])  # type: ignore[attr-defined]  # for the template
    context = {
        "kind": kind,
        "kinds": ScammerIdentifier.Kind.choices,
        "candidates": candidates,
        "decided": decided,
        "figures": selectors.intel_figures(since=timezone.now() - timedelta(days=30)),
        "min_subscribers": settings.INTEL_CANDIDATE_MIN_SUBSCRIBERS,
        "window_days": settings.INTEL_CANDIDATE_WINDOW_DAYS,
        "error_for": error_for,
        "error": error,
        "typed": typed,
    }
    return render(request, "intel/review.html", context, status=http_status)


@login_required
@require_GET
def review(request: StaffRequest) -> HttpResponse:
    """Candidates for a supervisor's decision, the latest decisions (reversible), figures."""
    require_workspace(request.user)
    require_review(request.user)
    return _render_review(request)


@login_required
@require_POST
def decide(request: StaffRequest, pk: int) -> HttpResponse:
    require_workspace(request.user)
    require_review(request.user)
    identifier = get_object_or_404(ScammerIdentifier, pk=pk)
    form = DecisionForm(request.POST)
    error, status = "", 400
    if not form.is_valid():
        error = " ".join(str(m) for errors in form.errors.values() for m in errors)
    else:
        d = form.cleaned_data
        try:
            identifier_decide(
                identifier=identifier, verdict=d["verdict"], seen=d["seen"], note=d["note"],
                actor=request.user,
            )  # fmt: skip
        except DecisionConflict as exc:
            error, status = str(exc), 409
        except ValidationError as exc:
            error = " ".join(exc.messages)
    if error:
        return _render_review(
            request, error_for=pk, error=error, typed=request.POST.get("note", ""),
            http_status=status,
        )  # fmt: skip
    messages.success(request, _("Решение сохранено: %(id)s.") % {"id": identifier})
    return redirect(reverse("intel:review") + (f"?kind={_kind(request)}" if _kind(request) else ""))


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
@require_GET
def confirmed_csv(request: StaffRequest) -> StreamingHttpResponse:
    """The confirmed list for people, streamed (constant memory at any size)."""
    require_workspace(request.user)
    require_review(request.user)
    writer = csv.writer(_Echo())
    labels = dict(ScammerIdentifier.Kind.choices)
    header = [
        _("Тип"),
        _("Идентификатор"),
        _("Ключ"),
        _("Абонентов"),
        _("Впервые"),
        _("Подтверждён"),
    ]

    def rows():
        yield "\ufeff" + writer.writerow(header)
        for kind, display, value, reporters, first_seen, verdict_at in selectors.confirmed_rows():
            confirmed = verdict_at.isoformat() if verdict_at else ""
            cells = [labels.get(kind, kind), display, value, reporters, first_seen.isoformat(),
                     confirmed]  # fmt: skip
            yield writer.writerow([neutralise(c) if isinstance(c, str) else c for c in cells])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="confirmed-identifiers.csv"'
    return response


@login_required
@require_GET
def waves(request: StaffRequest) -> HttpResponse:
    """htmx: the waves block of the queue page (supervisors) and the reports (managers)."""
    require_workspace(request.user)
    require_waves(request.user)

    def build() -> dict:
        now = timezone.now()
        rows = [(w, selectors.wave_is_active(w, now)) for w in selectors.current_waves(now=now)]
        return {"waves": rows, "window": settings.WAVE_WINDOW_MINUTES}

    # Every supervisor's queue page polls it; beat counts the waves once a minute and the
    # block shows no one's personal data: rendered once for everyone in a time zone.
    return shared_part(
        request, "intel/_waves.html", build, vary=[timezone.get_current_timezone_name()]
    )


@login_required
@require_GET
def figures(request: StaffRequest) -> HttpResponse:
    """htmx: the identifiers' figures on the reports page (managers and supervisors)."""
    require_workspace(request.user)
    require_waves(request.user)
    since = timezone.now() - timedelta(days=30)
    return render(request, "intel/_figures.html", {"figures": selectors.intel_figures(since=since)})
