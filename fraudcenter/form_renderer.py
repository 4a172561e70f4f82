"""Form rendering without a template per widget, option and label.

Django renders every form field through three to five small templates (field group, label,
widget, attrs, one more per <option>). On the staff lists that was a quarter of the page's
time: ten filter fields, two selects of every specialist. This renderer writes the same HTML
for the commonest templates in Python and leaves every other template to Django;
tests/test_form_renderer.py proves the output is identical, byte for byte, to Django's own
templates for the staff forms."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe


def _attrs(attrs: dict[str, Any]) -> str:
    # django/forms/widgets/attrs.html: False drops the attribute, True writes its bare name.
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            out.append(f" {conditional_escape(name)}")
        else:
            out.append(f' {conditional_escape(name)}="{conditional_escape(str(value))}"')
    return "".join(out)


def _input(context: dict[str, Any]) -> str:
    w = context["widget"]
    value = "" if w["value"] is None else f' value="{conditional_escape(str(w["value"]))}"'
    return (
        f'<input type="{conditional_escape(w["type"])}" name="{conditional_escape(w["name"])}"'
        f"{value}{_attrs(w['attrs'])}>"
    )


def _option(option: dict[str, Any]) -> str:
    return (
        f'<option value="{conditional_escape(str(option["value"]))}"{_attrs(option["attrs"])}>'
        f"{conditional_escape(option['label'])}</option>"
    )


def _options(options: Iterable[dict[str, Any]]) -> str:
    # select_option.html ends with a newline, and select.html includes it once per option.
    return "".join(f"\n  {_option(o)}\n" for o in options)


def _select(context: dict[str, Any]) -> str:
    w = context["widget"]
    parts = [f'<select name="{conditional_escape(w["name"])}"{_attrs(w["attrs"])}>']
    for group_name, group_choices, _index in w["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        parts.append(_options(group_choices))
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _textarea(context: dict[str, Any]) -> str:
    w = context["widget"]
    value = conditional_escape(w["value"]) if w["value"] else ""
    return (
        f'<textarea name="{conditional_escape(w["name"])}"{_attrs(w["attrs"])}>\n{value}</textarea>'
    )


def _label(context: dict[str, Any]) -> str:
    if not context["use_tag"]:
        return conditional_escape(context["label"])
    tag = conditional_escape(context["tag"])
    return f"<{tag}{_attrs(context['attrs'] or {})}>{conditional_escape(context['label'])}</{tag}>"


def _staff_field(context: dict[str, Any]) -> str:
    # cases/templates/cases/forms/field.html
    field = context["field"]
    errors = field.errors
    html = format_html('<div class="field{}">', " has-error" if errors else "")
    if field.label:
        html += field.label_tag()
    if errors:
        html += str(errors)
    html += str(field)
    if field.help_text:
        html += f'<div class="hint">{field.help_text}</div>'
    return html + "</div>\n"


PYTHON_TEMPLATES: dict[str, Callable[[dict[str, Any]], str]] = {
    "django/forms/widgets/input.html": _input,
    "django/forms/widgets/text.html": _input,
    "django/forms/widgets/date.html": _input,
    "django/forms/widgets/number.html": _input,
    "django/forms/widgets/hidden.html": _input,
    "django/forms/widgets/email.html": _input,
    "django/forms/widgets/checkbox.html": _input,
    "django/forms/widgets/select.html": _select,
    "django/forms/widgets/textarea.html": _textarea,
    "django/forms/label.html": _label,
    "cases/forms/field.html": _staff_field,
}


class FormRenderer(DjangoTemplates):
    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        render = PYTHON_TEMPLATES.get(template_name)
        if render is None:
            return super().render(template_name, context, request)
        return mark_safe(render(context).strip())  # as BaseRenderer.render
