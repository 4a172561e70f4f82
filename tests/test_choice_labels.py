"""fraudcenter.choice_labels: `get_FOO_display()` gives Django's own label, translating one."""

from __future__ import annotations

from functools import partialmethod

from django.apps import apps
from django.db import models
from django.utils import translation

from cases.models import Case, CaseEvent


def _fields_with_choices():
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.Field) and field.choices:
                yield model, field


def test_every_label_is_djangos_own_and_an_unknown_value_shows_as_it_is():
    checked = 0
    for model, field in _fields_with_choices():
        method = getattr(model, f"get_{field.name}_display")
        assert not isinstance(model.__dict__.get(f"get_{field.name}_display"), partialmethod)
        for value, _label in [*field.flatchoices, ("no-such-value", None)]:
            try:
                instance = model(**{field.attname: value})
            except Exception:  # noqa: BLE001  # a field that refuses unknown values (a time zone)
                continue
            assert method(instance) == models.Model._get_FIELD_display(instance, field)
            checked += 1
    assert checked > 100  # every app's choices, not a few


def test_only_the_label_shown_is_translated_and_at_the_call(monkeypatch):
    calls: list[str] = []
    real = translation._trans.gettext

    def catalog_of_now(message: str) -> str:  # as if the language changed after start-up
        calls.append(message)
        return f"<{real(message)}>"

    monkeypatch.setattr(translation._trans, "gettext", catalog_of_now)
    assert CaseEvent(kind="step").get_kind_display() == "<Шаг сценария>"
    assert calls == ["Шаг сценария"]  # Django's own translated each of the field's labels
    assert Case(status="closed").get_status_display() == "<Закрыто>"
