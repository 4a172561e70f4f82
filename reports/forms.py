from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .exports import COLUMNS, DEFAULT_COLUMNS
from .filters import ReportFilterForm


class CaseExportForm(ReportFilterForm):
    columns = forms.MultipleChoiceField(
        label=_("Столбцы"),
        choices=[(key, label) for key, (label, *_rest) in COLUMNS.items()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=DEFAULT_COLUMNS,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("columns") and "columns" not in self.errors:
            self.add_error("columns", _("Выберите хотя бы один столбец."))
        return data
