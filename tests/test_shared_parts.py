"""fraudcenter.shared_parts: a polled part rendered once for every viewer alike."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine

from fraudcenter.shared_parts import shared_part

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))


def test_a_stale_part_is_rendered_by_one_request_while_the_others_get_the_previous_one(rf, db):
    renders: list[int] = []

    def poll(window: int, during=None) -> str:
        """The waves block, whose heading shows `window`: which rendering was served."""

        def build() -> dict:
            renders.append(window)
            if during:
                during()
            return {"waves": [], "window": window}

        answer = shared_part(rf.get("/"), "intel/_waves.html", build, vary=["t"], seconds=5)
        html = answer.content.decode()
        answer.close()  # as the WSGI server does once it has sent the answer
        return html

    with time_machine.travel(T0, tick=False) as clock:
        assert "за 1 мин" in poll(1)  # nothing kept yet: rendered for this request
        clock.shift(3)
        assert "за 1 мин" in poll(2)  # fresh: served as it is
        clock.shift(3)
        meanwhile: list[str] = []
        # Stale: this request gets the previous one at once and renders it again after its
        # answer went out; one arriving during that rendering gets the previous one too.
        assert "за 1 мин" in poll(3, during=lambda: meanwhile.append(poll(4)))
        assert "за 1 мин" in meanwhile[0]
        clock.shift(1)
        assert "за 3 мин" in poll(5)  # the new one, fresh again
    assert renders == [1, 3]


def test_zero_seconds_renders_every_time(rf, db):
    def poll(window: int) -> str:
        answer = shared_part(
            rf.get("/"), "intel/_waves.html", lambda: {"waves": [], "window": window},
            vary=["z"], seconds=0,
        )  # fmt: skip
        return answer.content.decode()

    assert "за 1 мин" in poll(1) and "за 2 мин" in poll(2)
