"""Calendar windows: DST days in several zones, every week_start, period names."""

from __future__ import annotations

import pytest

from schemas.timefmt import format_ms, parse_rfc3339_ms
from streams.engine.windows import WEEKDAYS, Calendar

HOUR = 3_600_000


@pytest.mark.parametrize(
    ("tz", "instant", "period", "start", "end", "hours"),
    [
        (
            "UTC",
            "2026-11-27T13:00:00Z",
            "2026-11-27",
            "2026-11-27T00:00:00Z",
            "2026-11-28T00:00:00Z",
            24,
        ),
        # Europe/Berlin springs forward on 2026-03-29 (23 h) and falls back on 2026-10-25 (25 h)
        (
            "Europe/Berlin",
            "2026-03-29T12:00:00Z",
            "2026-03-29",
            "2026-03-28T23:00:00Z",
            "2026-03-29T22:00:00Z",
            23,
        ),
        (
            "Europe/Berlin",
            "2026-10-25T12:00:00Z",
            "2026-10-25",
            "2026-10-24T22:00:00Z",
            "2026-10-25T23:00:00Z",
            25,
        ),
        # America/New_York: 2026-03-08 (23 h), 2026-11-01 (25 h)
        (
            "America/New_York",
            "2026-03-08T12:00:00Z",
            "2026-03-08",
            "2026-03-08T05:00:00Z",
            "2026-03-09T04:00:00Z",
            23,
        ),
        (
            "America/New_York",
            "2026-11-01T12:00:00Z",
            "2026-11-01",
            "2026-11-01T04:00:00Z",
            "2026-11-02T05:00:00Z",
            25,
        ),
        # Local date differs from the UTC date near midnight
        (
            "America/New_York",
            "2026-11-27T03:00:00Z",
            "2026-11-26",
            "2026-11-26T05:00:00Z",
            "2026-11-27T05:00:00Z",
            24,
        ),
        (
            "Asia/Tokyo",
            "2026-11-27T16:00:00Z",
            "2026-11-28",
            "2026-11-27T15:00:00Z",
            "2026-11-28T15:00:00Z",
            24,
        ),
        (
            "Asia/Kathmandu",
            "2026-11-26T18:15:00Z",
            "2026-11-27",
            "2026-11-26T18:15:00Z",
            "2026-11-27T18:15:00Z",
            24,
        ),
        # Santiago skips local midnight on 2026-09-06: the day starts at 01:00 local
        (
            "America/Santiago",
            "2026-09-06T12:00:00Z",
            "2026-09-06",
            "2026-09-06T04:00:00Z",
            "2026-09-07T03:00:00Z",
            23,
        ),
    ],
)
def test_daily_windows(
    tz: str, instant: str, period: str, start: str, end: str, hours: int
) -> None:
    ref = Calendar(tz, 0).window("daily", parse_rfc3339_ms(instant))
    assert (ref.period, format_ms(ref.start or 0), format_ms(ref.end or 0)) == (period, start, end)
    assert ((ref.end or 0) - (ref.start or 0)) // HOUR == hours


def test_window_bounds_are_half_open() -> None:
    cal = Calendar("UTC", 0)
    midnight = parse_rfc3339_ms("2026-11-27T00:00:00Z")
    assert cal.window("daily", midnight).period == "2026-11-27"
    assert cal.window("daily", midnight - 1).period == "2026-11-26"


# Friday 2026-11-27: the week that contains it starts on each weekday as below.
@pytest.mark.parametrize(
    ("week_start", "period"),
    [
        ("monday", "2026-11-23"),
        ("tuesday", "2026-11-24"),
        ("wednesday", "2026-11-25"),
        ("thursday", "2026-11-26"),
        ("friday", "2026-11-27"),
        ("saturday", "2026-11-21"),
        ("sunday", "2026-11-22"),
    ],
)
def test_weekly_windows_for_every_week_start(week_start: str, period: str) -> None:
    ref = Calendar("UTC", WEEKDAYS.index(week_start)).window(
        "weekly", parse_rfc3339_ms("2026-11-27T12:00:00Z")
    )
    assert ref.period == period
    assert (ref.end or 0) - (ref.start or 0) == 7 * 24 * HOUR


def test_weekly_window_across_dst_is_167_hours() -> None:
    ref = Calendar("Europe/Berlin", 0).window("weekly", parse_rfc3339_ms("2026-03-27T12:00:00Z"))
    assert ref.period == "2026-03-23"
    assert format_ms(ref.start or 0) == "2026-03-22T23:00:00Z"
    assert ((ref.end or 0) - (ref.start or 0)) // HOUR == 167


def test_all_window_has_no_period_or_bounds() -> None:
    ref = Calendar("UTC", 0).window("all", 0)
    assert (ref.kind, ref.period, ref.start, ref.end) == ("all", None, None, None)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2026-11-27T00:00:00Z", 1_795_737_600_000),
        ("2026-11-27t00:00:00z", 1_795_737_600_000),
        ("2026-11-27T01:00:00+01:00", 1_795_737_600_000),
        ("2026-11-26T19:00:00-05:00", 1_795_737_600_000),
        ("2026-11-27T05:30:00.250+05:30", 1_795_737_600_250),
        ("2026-11-27T00:00:00.123999Z", 1_795_737_600_123),  # sub-ms is floored
        ("1970-01-01T00:00:00Z", 0),
    ],
)
def test_timestamp_forms(text: str, ms: int) -> None:
    assert parse_rfc3339_ms(text) == ms
