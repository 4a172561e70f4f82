"""`get_FOO_display()` without translating every label of the field on each call.

Django's own builds `dict(make_hashable(field.flatchoices))` per call: hashing each lazy label
translates it, so a timeline of 20 events asked its kind's label ~600 times (3–7 % of the case
page and of a step's answer, py-spy). This one looks the value up in a dict built once per
field and translates only the label found, in the language active at the call."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partialmethod
from typing import Any

from django.db import models
from django.utils.encoding import force_str


def _display(field: models.Field, labels: dict[Any, Any]) -> Any:
    def display(self: models.Model) -> Any:
        value = getattr(self, field.attname)
        try:
            label = labels.get(value, value)
        except TypeError:  # an unhashable value: Django's own way
            return self._get_FIELD_display(field)  # type: ignore[attr-defined]
        return force_str(label, strings_only=True)

    display.__name__ = f"get_{field.name}_display"
    return display


def speed_up_choice_labels(model_classes: Iterable[type[models.Model]]) -> None:
    """Replace the `get_FOO_display` Django added (a partialmethod) on each field with
    choices; a model's own method of that name stays."""
    for model in model_classes:
        for field in model._meta.get_fields():
            if not isinstance(field, models.Field) or not field.choices:
                continue
            name = f"get_{field.name}_display"
            for klass in model.__mro__:
                if name in klass.__dict__:
                    if isinstance(klass.__dict__[name], partialmethod) and klass is model:
                        try:  # keys only: the lazy labels are not translated here
                            labels = dict(field.flatchoices)
                        except TypeError:  # unhashable choice values: keep Django's
                            break
                        setattr(model, name, _display(field, labels))
                    break
