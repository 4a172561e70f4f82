from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cases.models import ScammerIdentifier


class DecisionForm(forms.Form):
    verdict = forms.ChoiceField(
        choices=ScammerIdentifier.Verdict.choices,
        required=False,
        error_messages={"invalid_choice": _("Неизвестное решение.")},
    )
    # The verdict the person looked at: a decision made meanwhile is not overwritten.
    seen = forms.ChoiceField(choices=ScammerIdentifier.Verdict.choices, required=False)
    note = forms.CharField(required=False, max_length=500, strip=False)
