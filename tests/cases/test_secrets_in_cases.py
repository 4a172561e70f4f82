"""Secrets never stored: every way a text enters a case masks them first; what was found is
offered as identifiers and said in the timeline."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    Case,
    CaseEvent,
    CaseIdentifier,
    ChatMessage,
    IdentifierSuggestion,
    StepOutcome,
)
from cases.services import (
    case_add_note,
    case_append_message,
    case_assign,
    case_record_step,
    case_update,
)

pytestmark = pytest.mark.django_db
CARD = "4276 3800 1234 5679"  # Luhn-valid
DIGITS = CARD.replace(" ", "")


def _nowhere(case: Case) -> None:
    """The full card number is in no row of the case."""
    texts = [case.summary, case.description]
    texts += list(CaseEvent.objects.filter(case=case).values_list("text", flat=True))
    texts += [str(e) for e in CaseEvent.objects.filter(case=case).values_list("data", flat=True)]
    texts += list(ChatMessage.objects.filter(case=case).values_list("text", flat=True))
    texts += list(StepOutcome.objects.filter(case=case).values_list("note", flat=True))
    texts += [
        str(v)
        for v in IdentifierSuggestion.objects.filter(case=case).values_list(
            "value", "display", "raw"
        )
    ]
    assert not any(DIGITS in t or CARD in t for t in texts), texts


def test_a_card_in_the_summary_is_masked_and_offered(make_case):
    case = make_case(summary=f"Перевёл деньги на карту {CARD} по просьбе «банка»")
    assert "•••• 5679" in case.summary and DIGITS not in case.summary
    suggestion = IdentifierSuggestion.objects.get(case=case, kind="card")
    assert suggestion.display == "•••• 5679" and suggestion.value.startswith("card:")
    masked = case.events.get(kind=CaseEvent.Kind.MASKED)
    assert "5679" in masked.text
    _nowhere(case)


def test_a_code_in_a_note_a_step_comment_and_a_chat_line_is_masked(
    make_case, specialist, integration
):
    case = case_assign(case=make_case(channel="chat"), assignee=specialist, actor=specialist)
    case_add_note(
        case=case, actor=specialist, text=f"Абонент продиктовал код из SMS 482913, карта {CARD}"
    )
    step = case.playbook_version.steps.get(position=1)
    case_record_step(
        case=case, step=step, result="done", actor=specialist, note="Назвал код 771204 из смс"
    )
    line = f"мне пришёл код 553311, карта {CARD}"
    case_append_message(
        case=case,
        external_id="m1",
        author="subscriber",
        text=line,
        sent_at=timezone.now(),
        actor=integration,
    )
    texts = list(CaseEvent.objects.filter(case=case).values_list("text", flat=True))
    assert not any(code in t for t in texts for code in ("482913", "771204", "553311"))
    assert StepOutcome.objects.get(case=case).note.count("•") >= 4
    _nowhere(case)
    # One card, offered once, however many texts named it.
    assert IdentifierSuggestion.objects.filter(case=case, kind="card").count() == 1


def test_phones_and_sites_in_the_text_are_offered_but_not_the_subscribers_own(
    make_case, specialist
):
    case = make_case(
        phone="+79161234567", summary="Звонили с +7 495 111-22-33, я перезвонил с 8 916 123-45-67"
    )
    case_update(
        case=case, actor=specialist, description="Прислали ссылку https://gosuslugi-help.ru/login"
    )
    offered = set(IdentifierSuggestion.objects.filter(case=case).values_list("kind", "value"))
    assert offered == {("phone", "+74951112233"), ("link", "gosuslugi-help.ru")}


def test_one_click_adds_a_suggestion_and_it_is_no_longer_offered(client, make_case, specialist):
    case = case_assign(
        case=make_case(summary=f"Карта {CARD}"), assignee=specialist, actor=specialist
    )
    suggestion = IdentifierSuggestion.objects.get(case=case)
    client.force_login(specialist)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "Найдено в текстах обращения" in page and "•••• 5679" in page
    version = Case.objects.get(pk=case.pk).version
    url = reverse("cases:suggestion", args=[case.pk, suggestion.pk])
    assert client.post(url, {"action": "add", "version": version}).status_code == 302
    link = CaseIdentifier.objects.select_related("identifier").get(case=case)
    assert link.identifier.kind == "card" and link.raw == "•••• 5679"
    assert str(link.identifier) == "•••• 5679"
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "Найдено в текстах обращения" not in page
    _nowhere(case)
