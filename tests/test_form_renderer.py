"""The Python form renderer writes exactly what Django's templates write, for every staff form."""

from __future__ import annotations

import pytest
from django.forms.renderers import DjangoTemplates

from cases.forms import (
    AssignForm,
    AvailabilityForm,
    CaseFilterForm,
    IdentifierForm,
    NewContactForm,
    NoteForm,
    ReminderForm,
    StatusForm,
    StepForm,
)
from fraudcenter.form_renderer import FormRenderer
from reports.filters import ReportFilterForm
from reports.forms import CaseExportForm

pytestmark = pytest.mark.django_db

HOSTILE = '"><script>alert(1)</script>&amp;'


def render_all(form) -> list[str]:
    """Every way the templates show a form: field groups, labels, widgets, errors, the form."""
    out = [str(form)]
    for bf in form:
        out += [bf.as_field_group(), bf.label_tag(), str(bf), str(bf.errors)]
    return out


def both(make) -> tuple[list[str], list[str]]:
    django_form, our_form = make(), make()
    django_form.renderer = DjangoTemplates()
    our_form.renderer = FormRenderer()
    return render_all(django_form), render_all(our_form)


def cases_for(make_case, specialist):
    case = make_case()
    return [
        lambda: NewContactForm(),
        lambda: NewContactForm({"phone": "8 916 123", "summary": HOSTILE, "channel": "nope"}),
        lambda: NewContactForm({"phone": "+79161234567", "summary": "ok", "code_disclosed": "on"}),
        lambda: StepForm({"result": "done", "note": HOSTILE}),
        lambda: NoteForm({"text": ""}),
        lambda: NoteForm({"text": HOSTILE}),
        lambda: IdentifierForm({"kind": "phone", "value": HOSTILE}),
        lambda: ReminderForm(),
        lambda: ReminderForm({"text": HOSTILE + "\nвторая строка", "delay": "60"}),
        lambda: StatusForm(case=case),
        lambda: StatusForm({"status": "closed", "version": "x"}, case=case),
        lambda: AssignForm(),
        lambda: AssignForm({"assignee": str(specialist.pk)}),
        lambda: AvailabilityForm({"user": "1", "is_available": "0"}),
        lambda: CaseFilterForm(staff=[specialist]),
        lambda: CaseFilterForm(
            {
                "status": "open",
                "category": case.category.slug,
                "assignee": str(specialist.pk),
                "period": "custom",
                "date_from": "2026-13-01",
                "q": HOSTILE,
            },
            staff=[specialist],
        ),  # fmt: skip
        lambda: ReportFilterForm(),
        lambda: ReportFilterForm({"period": "custom", "date_from": "bad"}),
        lambda: CaseExportForm(),
    ]


def test_every_staff_form_renders_byte_for_byte_as_with_djangos_templates(make_case, specialist):
    for make in cases_for(make_case, specialist):
        expected, ours = both(make)
        for a, b in zip(ours, expected, strict=True):
            assert a == b


def test_the_renderer_is_the_one_the_project_uses(client):
    from django.forms.renderers import get_default_renderer

    assert isinstance(get_default_renderer(), FormRenderer)
