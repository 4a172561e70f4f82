"""Forms render through Jinja2 templates: Django's own widget templates (django/forms/jinja2)
and the project's in `<app>/jinja2/` (the staff field: cases/jinja2/cases/forms/field.html).

Jinja2 renders the many small widget templates several times faster than the Django
template language, which was a quarter of the staff lists' time; the markup stays in the
templates. A template that exists for the Django engine only (the admin's date and
related-object widgets) is rendered by Django's own form renderer: `get_template` is the
renderer's public extension point."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.forms.renderers import DjangoTemplates, Jinja2
from django.template import TemplateDoesNotExist


class FormRenderer(Jinja2):
    @cached_property
    def django_templates(self) -> DjangoTemplates:
        return DjangoTemplates()

    def get_template(self, template_name: str) -> Any:
        try:
            return super().get_template(template_name)
        except TemplateDoesNotExist:
            return self.django_templates.get_template(template_name)
