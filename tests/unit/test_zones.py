"""Time zone conversions at the edges of what a datetime can hold."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from service.reports.fields import shift_of
from service.zones import local_hour, local_text

ZONES = [
    "UTC",
    "Asia/Ho_Chi_Minh",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "Etc/GMT-14",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
]
MAX = dt.datetime.max.replace(tzinfo=dt.UTC)
MIN = dt.datetime.min.replace(tzinfo=dt.UTC)
EXTREMES = [
    MAX,
    MAX - dt.timedelta(hours=1),
    MAX - dt.timedelta(hours=13),
    MAX - dt.timedelta(days=1),
    MIN,
    MIN + dt.timedelta(hours=1),
    MIN + dt.timedelta(hours=13),
    MIN + dt.timedelta(days=1),
]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("moment", EXTREMES, ids=lambda m: m.isoformat())
def test_extremes_never_raise(zone, moment) -> None:
    tz = ZoneInfo(zone)
    assert 0 <= local_hour(moment, tz) <= 23
    assert shift_of(moment, tz) in ("D", "E", "N")
    assert local_text(moment, tz)


@pytest.mark.parametrize(
    "zone, moment, hour",
    [
        ("Asia/Ho_Chi_Minh", dt.datetime(9999, 12, 31, 23, tzinfo=dt.UTC), 6),  # UTC+7: year 10000 locally
        ("Pacific/Kiritimati", MAX, 13),  # UTC+14
        ("Etc/GMT-14", MAX, 13),
        ("Etc/GMT+12", MIN, 12),  # UTC-12: year 0 locally
        ("America/St_Johns", MIN + dt.timedelta(hours=1), 21),  # local mean time before 1884: UTC-3:30:52
        ("Asia/Kathmandu", MAX, 5),  # UTC+5:45
    ],
)
def test_out_of_range_local_times_keep_their_hour(zone, moment, hour) -> None:
    assert local_hour(moment, ZoneInfo(zone)) == hour


@pytest.mark.parametrize("zone", ZONES)
def test_the_same_hour_as_astimezone_where_that_works(zone) -> None:
    tz = ZoneInfo(zone)
    for moment in (
        dt.datetime(1900, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2024, 3, 31, 1, 30, tzinfo=dt.UTC),
        dt.datetime(2024, 11, 3, 6, 30, tzinfo=dt.UTC),
        MAX - dt.timedelta(days=2),
        MIN + dt.timedelta(days=2),
    ):
        assert local_hour(moment, tz) == moment.astimezone(tz).hour


def test_local_text_falls_back_to_utc() -> None:
    assert local_text(MAX, ZoneInfo("Asia/Ho_Chi_Minh")) == "9999-12-31 23:59 UTC"
    assert (
        local_text(dt.datetime(2024, 5, 3, 10, tzinfo=dt.UTC), ZoneInfo("Asia/Ho_Chi_Minh")) == "2024-05-03 17:00 +07"
    )
