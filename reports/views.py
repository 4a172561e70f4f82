"""The reports page and its exports. Managers and supervisors (cases.view_reports);
unmasked exports need cases.export_unmasked on top."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from fraudcenter.requests import StaffRequest

from . import charts, selectors, services
from .access import access_export_job, export_may_unmask, require_reports
from .exports import DEFAULT_COLUMNS, PERSONAL_COLUMNS, csv_stream, table_csv
from .filters import ReportFilterForm
from .forms import CaseExportForm
from .models import ExportJob
from .tables import TABLES


def _filename(stem: str, form: ReportFilterForm, ext: str) -> str:
    f = form.report_filter()
    return f"{stem}_{f.date_from:%Y%m%d}-{f.date_to:%Y%m%d}.{ext}"


@login_required
@require_GET
def reports_page(request: StaffRequest) -> HttpResponseBase:
    require_reports(request.user)
    form = ReportFilterForm(request.GET or None)
    if not request.GET:
        form = ReportFilterForm({"period": "month"})
    report = None
    context: dict = {"form": form}
    if form.is_valid():
        f = form.report_filter()
        report = selectors.report_build(f)
        context.update(
            report=report,
            querystring=f.querystring(),
            chart_day=charts.stacked_by_day(report.by_day),
            chart_category=charts.horizontal_bars(
                report.by_category, label_key="name", value_key="n"
            ),
            export_form=CaseExportForm(initial={"columns": DEFAULT_COLUMNS}),
            tables={key: title for key, (title, _fn) in TABLES.items()},
        )
    context["unmasked"] = export_may_unmask(request.user)
    context["jobs"] = list(ExportJob.objects.filter(owner=request.user, format="xlsx")[:5])
    context["personal_columns"] = PERSONAL_COLUMNS
    # Bad filters: the page with the form's Russian errors, as 400 (as the case lists do).
    return render(request, "reports/page.html", context, status=200 if report else 400)


@login_required
@require_GET
def export_cases_csv(request: StaffRequest) -> HttpResponseBase:
    require_reports(request.user)
    form = CaseExportForm(request.GET)
    if not form.is_valid():
        return render(request, "reports/export_error.html", {"form": form}, status=400)
    f = form.report_filter()
    columns = form.cleaned_data["columns"]
    job = services.export_record_start(
        owner=request.user, f=f, kind="cases", fmt=ExportJob.Format.CSV, columns=columns
    )

    def on_done(count: int, complete: bool) -> None:
        services.export_record_finish(job_id=job.pk, row_count=count, complete=complete)

    response = StreamingHttpResponse(
        csv_stream(f, columns, masked=job.masked, on_done=on_done),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename("cases", form, "csv")}"'
    return response


@login_required
@require_GET
def export_table_csv(request: StaffRequest, table: str) -> HttpResponseBase:
    require_reports(request.user)
    if table not in TABLES:
        raise Http404
    form = ReportFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "reports/export_error.html", {"form": form}, status=400)
    f = form.report_filter()
    _title, build = TABLES[table]
    headers, rows = build(f)
    job = services.export_record_start(owner=request.user, f=f, kind=table, fmt="csv")
    services.export_record_finish(job_id=job.pk, row_count=len(rows), complete=True)
    response = HttpResponse(table_csv(headers, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(table, form, "csv")}"'
    return response


@login_required
@require_POST
def export_xlsx_create(request: StaffRequest) -> HttpResponseBase:
    require_reports(request.user)
    form = CaseExportForm(request.POST)
    if not form.is_valid():
        return render(request, "reports/export_error.html", {"form": form}, status=400)
    job = services.export_xlsx_request(
        owner=request.user, f=form.report_filter(), columns=form.cleaned_data["columns"]
    )
    if request.htmx:
        return render(request, "reports/_job.html", {"job": job})
    return redirect("reports:job", pk=job.pk)


def _own_job(request: StaffRequest, pk: int) -> ExportJob:
    return access_export_job(request.user, pk)


@login_required
@require_GET
def export_job(request: StaffRequest, pk: int) -> HttpResponseBase:
    job = _own_job(request, pk)
    template = "reports/_job.html" if request.htmx else "reports/job.html"
    return render(request, template, {"job": job})


@login_required
@require_GET
def export_job_download(request: StaffRequest, pk: int) -> HttpResponseBase:
    job = _own_job(request, pk)
    path = services.export_file_path(job)
    if path is None or (job.expires_at and job.expires_at <= timezone.now()):
        raise Http404
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"cases_{job.pk}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
