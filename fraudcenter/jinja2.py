"""The Jinja2 environment of the templates in `<app>/jinja2/` (TEMPLATES["jinja2"]).

Jinja2 renders the pieces that repeat many times per page (the case list's table, the form
widgets) several times faster than the Django template language; the pages around them stay
Django templates. Texts are translated with `_()` as in Python."""

from __future__ import annotations

from typing import Any

from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from jinja2 import Environment


def environment(**options: Any) -> Environment:
    env = Environment(**options)
    env.globals.update({"_": gettext, "ngettext": ngettext, "url": reverse})
    env.filters["linebreaksbr"] = linebreaksbr  # Django's: the same <br> and escaping
    return env
