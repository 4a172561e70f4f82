from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from reminders.quiet_hours import is_quiet, next_allowed_send_time

RUSSIAN_ZONES = [
    "Europe/Kaliningrad", "Europe/Moscow", "Europe/Simferopol", "Europe/Kirov",
    "Europe/Volgograd", "Europe/Astrakhan", "Europe/Saratov", "Europe/Ulyanovsk",
    "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk", "Asia/Novosibirsk", "Asia/Barnaul",
    "Asia/Tomsk", "Asia/Novokuznetsk", "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Chita",
    "Asia/Yakutsk", "Asia/Khandyga", "Asia/Vladivostok", "Asia/Ust-Nera", "Asia/Magadan",
    "Asia/Sakhalin", "Asia/Srednekolymsk", "Asia/Kamchatka", "Asia/Anadyr",
]  # fmt: skip
START, END = time(21, 0), time(9, 0)
moments = st.datetimes(
    min_value=datetime(2015, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=400, deadline=None)
@given(moment=moments, zone=st.sampled_from(RUSSIAN_ZONES))
def test_the_send_time_is_never_at_night_and_never_later_than_the_next_morning(moment, zone):
    tz = ZoneInfo(zone)
    allowed = next_allowed_send_time(moment, tz, START, END)
    local = allowed.astimezone(tz)
    assert allowed >= moment
    assert not is_quiet(local.time(), START, END)
    assert allowed - moment <= timedelta(hours=12)
    if not is_quiet(moment.astimezone(tz).time(), START, END):
        assert allowed == moment
    else:
        # The earliest allowed instant: 09:00 sharp, local; a minute earlier is still night.
        assert (local.hour, local.minute, local.second) == (9, 0, 0)
        assert is_quiet((allowed - timedelta(minutes=1)).astimezone(tz).time(), START, END)


@settings(max_examples=200, deadline=None)
@given(
    moment=moments,
    zone=st.sampled_from(RUSSIAN_ZONES),
    start=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    end=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)
def test_any_configured_window_is_respected_in_every_russian_zone(moment, zone, start, end):
    tz = ZoneInfo(zone)
    allowed = next_allowed_send_time(moment, tz, start, end)
    assert allowed >= moment
    assert not is_quiet(allowed.astimezone(tz).time(), start, end)
    assert allowed - moment <= timedelta(hours=24)


def test_an_evening_reminder_in_kamchatka_waits_for_the_kamchatka_morning():
    # 10:30 UTC is 22:30 in Petropavlovsk-Kamchatsky (UTC+12) and 13:30 in Moscow.
    moment = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
    kamchatka = next_allowed_send_time(moment, "Asia/Kamchatka", START, END)
    assert kamchatka == datetime(2026, 3, 11, 9, 0, tzinfo=ZoneInfo("Asia/Kamchatka"))
    assert next_allowed_send_time(moment, "Europe/Moscow", START, END) == moment


def test_the_edges_are_exact_nine_is_allowed_and_nine_pm_is_not():
    tz = ZoneInfo("Europe/Kaliningrad")
    nine = datetime(2026, 6, 1, 9, 0, tzinfo=tz)
    assert next_allowed_send_time(nine, tz, START, END) == nine
    just_before = nine - timedelta(microseconds=1)
    assert next_allowed_send_time(just_before, tz, START, END) == nine
    evening = datetime(2026, 6, 1, 21, 0, tzinfo=tz)
    assert next_allowed_send_time(evening, tz, START, END) == nine + timedelta(days=1)
    assert next_allowed_send_time(evening - timedelta(seconds=1), tz, START, END) == (
        evening - timedelta(seconds=1)
    )


def test_equal_start_and_end_means_no_quiet_hours():
    assert not is_quiet(time(3, 0), time(0, 0), time(0, 0))
