"""Access to the reports and exports: the rules are cases/rules.py's (`cases.view_reports`)
and the model permission `cases.export_unmasked`; every report page, export and report API
endpoint asks here."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from cases.access import has, require
from cases.roles import has_model_permission

from .models import ExportJob


def require_reports(user: Any) -> None:
    require(user, "cases.view_reports")


def may_view_reports(user: Any) -> bool:
    return has(user, "cases.view_reports")


def export_may_unmask(user: Any) -> bool:
    """Full numbers and names in an export: a model permission given to a group or a person."""
    return has_model_permission(user, "cases.export_unmasked")


def access_export_job(user: Any, pk: int) -> ExportJob:
    """One's own export; someone else's is "not found", not "forbidden" (ids are not to be
    probed)."""
    require_reports(user)
    job = ExportJob.objects.filter(pk=pk, owner_id=user.pk).first()
    if job is None:
        raise Http404
    return job
