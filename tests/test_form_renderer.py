"""Markup lives in templates: the staff forms' fields and widgets come from Jinja2 template
files, the case list's rows from templates/cases/list.html. Editing one of those files is
the whole change (these tests make the edit and see it)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import django
import pytest
from django.conf import settings
from django.urls import reverse

from cases.forms import NoteForm, StatusForm
from fraudcenter.form_renderer import FormRenderer

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
DJANGO_FORMS_JINJA2 = Path(django.__file__).parent / "forms" / "jinja2"


def _renderer_with(tmp_path: Path) -> FormRenderer:
    """The project's renderer, with tmp_path searched first (an edited template)."""

    class Edited(FormRenderer):
        @cached_property
        def engine(self):  # the renderer's engine, with one more directory in front
            return self.backend(
                {
                    "APP_DIRS": True,
                    "DIRS": [tmp_path, DJANGO_FORMS_JINJA2],
                    "NAME": "edited",
                    "OPTIONS": {},
                }
            )

    return Edited()


def test_the_staff_field_markup_is_the_template_file(tmp_path):
    source = ROOT / "cases" / "jinja2" / "cases" / "forms" / "field.html"
    edited = tmp_path / "cases" / "forms" / "field.html"
    edited.parent.mkdir(parents=True)
    edited.write_text(source.read_text().replace('class="field', 'data-edited class="field'))
    form = NoteForm(data={"text": ""}, renderer=_renderer_with(tmp_path))
    html = form["text"].as_field_group()
    assert html.startswith('<div data-edited class="field has-error">')
    assert "Заметка пуста." in html and "<textarea" in html
    # Unedited: the same markup without the mark, escaped as before.
    plain = NoteForm(data={"text": '"><script>'})["text"].as_field_group()
    assert plain.startswith('<div class="field">') and "&lt;script&gt;" in plain


def test_widgets_come_from_the_widget_templates(tmp_path, make_case):
    edited = tmp_path / "django" / "forms" / "widgets" / "select.html"
    edited.parent.mkdir(parents=True)
    source = DJANGO_FORMS_JINJA2 / "django" / "forms" / "widgets" / "select.html"
    edited.write_text(source.read_text().replace("<select", "<select data-edited"))
    case = make_case()
    form = StatusForm(case=case, renderer=_renderer_with(tmp_path))
    assert "<select data-edited" in form["status"].as_field_group()


def test_a_template_only_the_django_engine_has_still_renders():
    # The admin's widgets live in Django templates only: the renderer falls back to them.
    template = FormRenderer().get_template("admin/widgets/related_widget_wrapper.html")
    assert template is not None


def test_a_new_list_column_is_one_edit_of_the_list_table_template(
    client, specialist, make_case, tmp_path, settings
):
    cases = [make_case() for _ in range(3)]
    source = (ROOT / "cases" / "jinja2" / "cases" / "_case_table.html").read_text()
    edited = tmp_path / "cases" / "_case_table.html"
    edited.parent.mkdir(parents=True)
    edited.write_text(
        source.replace("<th>{{ _(\"Кратко\") }}</th>", "<th>ID</th><th>{{ _(\"Кратко\") }}</th>")
        .replace('<td class="summary-cell">', '<td class="edited">{{ c.external_id }}</td>'
                 '<td class="summary-cell">')
    )  # fmt: skip
    django_engine, jinja2_engine = settings.TEMPLATES
    settings.TEMPLATES = [django_engine, {**jinja2_engine, "DIRS": [tmp_path]}]
    client.force_login(specialist)
    html = client.get(reverse("cases:list")).content.decode()
    assert "<th>ID</th>" in html
    for case in cases:
        assert f'<td class="edited">{case.external_id}</td>' in html
        assert f'<a class="num" href="/cases/{case.pk}/">{case.number}</a>' in html
