"""What "now" means in the query functions, with an injected clock: a window query without period
answers the window that contains the wall clock in the board's time zone (empty before its
first event), never the last window that had events; yesterday's stays queryable by
period; /boards' current windows are the same ones."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.timefmt import format_ms, parse_rfc3339_ms
from streams.engine import query
from streams.engine.config import BoardConfig, BoardsConfig
from streams.engine.core import Engine
from streams.engine.events import ScoreEvent
from streams.engine.storage import MemoryStore

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]


def at(text: str) -> int:
    return parse_rfc3339_ms(text)


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def engine_with(board: BoardConfig, clock: Clock, max_future_seconds: int = 600) -> Engine:
    config = BoardsConfig(max_future_seconds=max_future_seconds, boards={"arena": board})
    return Engine(config, MemoryStore(), clock)


def bounds(engine: Engine, kind: str, now: int, period: str | None = None) -> tuple[object, ...]:
    window, is_open = query.resolve(engine, "arena", kind, period, now)
    start = None if window.start is None else format_ms(window.start)
    end = None if window.end is None else format_ms(window.end)
    return window.period, start, end, is_open, query.window_size(engine, "arena", window)


@pytest.mark.parametrize(
    ("timezone", "now", "daily", "weekly"),
    [
        # Just after midnight in Berlin (still the previous day in UTC).
        (
            "Europe/Berlin",
            "2026-12-05T23:00:01Z",
            ("2026-12-06", "2026-12-05T23:00:00Z", "2026-12-06T23:00:00Z"),
            ("2026-11-30", "2026-11-29T23:00:00Z", "2026-12-06T23:00:00Z"),
        ),
        # The last millisecond of a New York day.
        (
            "America/New_York",
            "2026-12-07T04:59:59.999Z",
            ("2026-12-06", "2026-12-06T05:00:00Z", "2026-12-07T05:00:00Z"),
            ("2026-11-30", "2026-11-30T05:00:00Z", "2026-12-07T05:00:00Z"),
        ),
        # A DST day: 23 hours long in New York.
        (
            "America/New_York",
            "2026-03-08T12:00:00Z",
            ("2026-03-08", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"),
            ("2026-03-02", "2026-03-02T05:00:00Z", "2026-03-09T04:00:00Z"),
        ),
    ],
)
def test_idle_board_answers_the_current_empty_window(
    timezone: str, now: str, daily: tuple[str, ...], weekly: tuple[str, ...]
) -> None:
    """The board's last events were three weeks ago (their windows are still open: they
    close on event time); without period the answer is today, empty, open."""
    clock = Clock(at(now))
    engine = engine_with(BoardConfig(timezone=timezone), clock)
    old = clock.now - 21 * DAY
    engine.apply(ScoreEvent("e1", "arena", "ann", 5, old))
    engine.apply(ScoreEvent("e2", "arena", "bob", 7, old))
    assert bounds(engine, "daily", clock.now) == (*daily, True, 0)
    assert bounds(engine, "weekly", clock.now) == (*weekly, True, 0)
    assert bounds(engine, "all", clock.now) == (None, None, None, True, 2)
    # The old window is still there, by its period; and today's by its period too.
    stale = query.board_windows(engine, "arena", clock.now).open[0]
    assert stale.kind == "daily" and stale.period != daily[0]
    assert bounds(engine, "daily", clock.now, stale.period)[3:] == (True, 2)
    assert bounds(engine, "daily", clock.now, daily[0]) == (*daily, True, 0)


def test_midnight_moves_now_and_keeps_yesterday() -> None:
    """A busy day, then the clock passes midnight with no new event: "now" is the new day,
    empty; yesterday's standings answer by period (open until its grace time has passed
    and an event or the idle close closes it, then retained)."""
    clock = Clock(at("2026-12-05T23:59:00Z"))
    engine = engine_with(BoardConfig(grace_seconds=300), clock)
    for n, user in enumerate(["ann", "bob", "cy"]):
        engine.apply(ScoreEvent(f"e{n}", "arena", user, 10 * (n + 1), clock.now - n * MIN))
    assert bounds(engine, "daily", clock.now)[::4] == ("2026-12-05", 3)
    clock.now = at("2026-12-06T00:00:00Z")
    assert bounds(engine, "daily", clock.now) == (
        "2026-12-06",
        "2026-12-06T00:00:00Z",
        "2026-12-07T00:00:00Z",
        True,
        0,
    )
    assert bounds(engine, "daily", clock.now, "2026-12-05")[3:] == (True, 3)
    info = query.board_windows(engine, "arena", clock.now)
    assert [(w.kind, w.period) for w in info.current] == [
        ("daily", "2026-12-06"),
        ("weekly", "2026-11-30"),
        ("all", None),
    ]
    # The first event after the grace time closes yesterday: retained, no longer open.
    clock.now = at("2026-12-06T00:06:00Z")
    engine.apply(ScoreEvent("e9", "arena", "dee", 1, clock.now))
    assert bounds(engine, "daily", clock.now)[::4] == ("2026-12-06", 1)
    assert bounds(engine, "daily", clock.now, "2026-12-05")[3:] == (False, 3)


def test_current_window_closed_early_by_a_future_event() -> None:
    """Events may be up to max_future_seconds ahead of the wall clock: with no grace, one
    just past midnight closes today's window while the wall clock is still in it."""
    clock = Clock(at("2026-12-05T23:58:00Z"))
    engine = engine_with(BoardConfig(grace_seconds=0), clock)
    engine.apply(ScoreEvent("e1", "arena", "ann", 5, clock.now))
    engine.apply(ScoreEvent("e2", "arena", "bob", 6, at("2026-12-06T00:05:00Z")))
    assert bounds(engine, "daily", clock.now)[::3] == ("2026-12-05", False)
    assert query.board_windows(engine, "arena", clock.now).current[0].period == "2026-12-05"


def test_unknown_board_stays_404_and_configured_board_without_state_answers() -> None:
    clock = Clock(at("2026-12-06T10:00:00Z"))
    engine = engine_with(BoardConfig(windows=("daily",), timezone="Asia/Kathmandu"), clock)
    with pytest.raises(query.QueryError) as info:
        query.resolve(engine, "never-seen", "daily", None, clock.now)
    assert (info.value.status, info.value.code) == (404, "unknown_board")
    assert bounds(engine, "daily", clock.now) == (
        "2026-12-06",
        "2026-12-05T18:15:00Z",
        "2026-12-06T18:15:00Z",
        True,
        0,
    )
    assert [w.kind for w in query.current_windows(engine.config.for_board("arena"), 0)] == ["daily"]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.integers(min_value=0, max_value=6),
    st.integers(min_value=at("2000-01-01T00:00:00Z"), max_value=at("2100-01-01T00:00:00Z")),
)
def test_current_window_contains_now(timezone: str, week_start: int, now: int) -> None:
    config = BoardConfig(timezone=timezone, week_start=week_start)
    daily, weekly, everything = query.current_windows(config, now)
    local = datetime.fromtimestamp(now / 1000, UTC).astimezone(ZoneInfo(timezone)).date()
    assert daily.period == local.isoformat()
    for window in (daily, weekly):
        assert window.start is not None and window.end is not None
        assert window.start <= now < window.end
    assert weekly.period is not None and weekly.period <= daily.period
    assert datetime.fromisoformat(weekly.period).weekday() == week_start
    assert everything.kind == "all" and everything.period is None
