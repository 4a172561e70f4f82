"""Report figures for the operator's BI tools: GET /api/v1/reports/<figure>/ with
date_from/date_to (or period + date), channel, category. Token (knox) or session auth;
permission cases.view_reports. Durations are in seconds."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.api_policies import refuse_repeated_parameters
from cases.models import ScammerIdentifier

from . import selectors
from .access import may_view_reports
from .filters import ReportFilter, ReportFilterForm


class CanViewReports(BasePermission):
    def has_permission(self, request, view) -> bool:
        return may_view_reports(request.user)


def _filter_or_errors(request: Request) -> tuple[ReportFilter | None, dict[str, Any]]:
    params = request.query_params.copy()
    if params.get("date_from") or params.get("date_to"):
        params.setdefault("period", "custom")
    form = ReportFilterForm(params)
    if not form.is_valid():
        return None, {k: [str(m) for m in v] for k, v in form.errors.items()}
    return form.report_filter(), {}


FILTER_PARAMETERS = [
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="Начало периода (МСК)"),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="Конец периода включительно"),
    OpenApiParameter("period", str, enum=["day", "week", "month", "custom"]),
    OpenApiParameter("date", OpenApiTypes.DATE, description="Дата внутри дня/недели/месяца"),
    OpenApiParameter("channel", str, enum=["hotline", "chat", "other"]),
    OpenApiParameter("category", int),
]


def _by_day(f: ReportFilter) -> Any:
    return [{**r, "day": r["day"].isoformat()} for r in selectors.contacts_by_day(f)]


def _summary(f: ReportFilter) -> Any:
    data = selectors.summary(f)
    if data["money_amount"] is not None:
        data["money_amount"] = str(data["money_amount"])
    return data


FIGURES = {
    "by_day": _by_day,
    "by_category": selectors.contacts_by_category,
    "summary": _summary,
    "top_phones": lambda f: selectors.top_identifiers(f, kind=ScammerIdentifier.Kind.PHONE),
    "top_senders": lambda f: selectors.top_identifiers(f, kind=ScammerIdentifier.Kind.SENDER),
    "steps": selectors.step_completion,
    "sms": selectors.sms_summary,
    "calls": selectors.calls_summary,
    "specialists": lambda f: [
        {k: v for k, v in r.items() if k not in ("first_name", "last_name")}
        for r in selectors.specialists(f)
    ],
}


class ReportFigureApi(APIView):
    """One figure (or all of them with figure=None) for a period."""

    permission_classes = [IsAuthenticated, CanViewReports]
    figure: str | None = None

    @extend_schema(parameters=FILTER_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        refuse_repeated_parameters(request)
        f, errors = _filter_or_errors(request)
        if f is None:
            return Response(errors, status=400)
        period = f.to_json()
        if self.figure is None:
            return Response({"period": period, **{k: fn(f) for k, fn in FIGURES.items()}})
        return Response({"period": period, self.figure: FIGURES[self.figure](f)})
