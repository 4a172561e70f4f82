"""The case's timeline (cases/jinja2/cases/_timeline.html through case_tags.timeline): each
event in the viewer's time zone, its author, its label, its text escaped and masked."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine

from cases.models import StaffProfile
from cases.services import case_add_note, case_set_status


def _timeline(client, case) -> str:
    html = client.get(f"/cases/{case.pk}/").content.decode()
    return html[html.index('id="timeline"') :]


def test_each_event_in_the_viewers_zone_with_its_author_and_its_text_escaped(
    client, specialist, manager, make_case
):
    case = make_case()
    with time_machine.travel(datetime(2026, 3, 10, 9, 5, tzinfo=UTC), tick=False):
        case_add_note(case=case, actor=specialist, text="Звонили с +79161234567\n<b>банк</b>")
    with time_machine.travel(datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tick=False):
        case_set_status(case=case, status="waiting", actor=specialist)
    StaffProfile.objects.create(user=specialist, time_zone="Asia/Yekaterinburg")
    specialist.first_name, specialist.last_name = "Анна", "Петрова"
    specialist.save()

    client.force_login(specialist)
    timeline = _timeline(client, case)
    note = timeline.index('<time datetime="2026-03-10T14:05:00+05:00">10.03 14:05</time>')
    status = timeline.index('<time datetime="2026-03-10T14:30:00+05:00">10.03 14:30</time>')
    assert status < note  # newest first
    assert '<span class="who">Анна Петрова</span>' in timeline[note:]
    assert "Звонили с +79161234567<br>&lt;b&gt;банк&lt;/b&gt;" in timeline
    assert "Новое → Ждём абонента" in timeline[status:note]

    # A manager sees numbers masked, in the manager's own zone (Moscow by default).
    client.force_login(manager)
    timeline = _timeline(client, case)
    assert '<time datetime="2026-03-10T12:05:00+03:00">10.03 12:05</time>' in timeline
    assert "+79161234567" not in timeline and "&lt;b&gt;банк&lt;/b&gt;" in timeline
