"""Quiet hours: no SMS at night in the subscriber's own time zone.

Pure functions. Russia has had no daylight saving time since 2014, but the code does not rely
on it: the answer is computed from wall-clock times in the zone and converted back."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings


def parse_hhmm(value: str) -> time:
    hours, minutes = value.strip().split(":")
    return time(int(hours), int(minutes))


def quiet_window() -> tuple[time, time]:
    return parse_hhmm(settings.SMS_QUIET_HOURS_START), parse_hhmm(settings.SMS_QUIET_HOURS_END)


def is_quiet(local: time, start: time, end: time) -> bool:
    """True when a local wall-clock time falls in [start, end); the window may wrap midnight."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed_send_time(
    moment: datetime,
    tz: ZoneInfo | str,
    start: time | None = None,
    end: time | None = None,
) -> datetime:
    """The earliest instant at or after `moment` outside quiet hours in `tz`.

    A moment in the evening part of the window moves to `end` the next local day; one in the
    morning part moves to `end` the same local day."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    zone = ZoneInfo(str(tz)) if not isinstance(tz, ZoneInfo) else tz
    if start is None or end is None:
        start, end = quiet_window()
    local = moment.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    if not is_quiet(wall, start, end):
        return moment
    day = local.date() if wall < end else local.date() + timedelta(days=1)
    allowed = datetime.combine(day, end, tzinfo=zone)
    # A wall time skipped by a clock change (none in Russia today) lands after the gap.
    allowed = allowed.astimezone(ZoneInfo("UTC")).astimezone(zone)
    return allowed.astimezone(moment.tzinfo)
