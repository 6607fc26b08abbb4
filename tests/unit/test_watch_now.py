"""`rankstream watch` follows the wall clock (streams/apps/watch.py, injected ``now_ms``): each
board shows the current period of each window kind in its own time zone, empty until a
change arrives; past midnight the new day comes with no record, and yesterday stays on
screen, marked previous, then closed once its window_closed arrives."""

from __future__ import annotations

import json

from schemas.timefmt import parse_rfc3339_ms
from streams.apps.watch import WatchView, render_frame
from streams.engine.config import BoardConfig, BoardsConfig

DAY = {
    "window": "daily",
    "period": "2026-11-27",
    "window_start": "2026-11-27T00:00:00Z",
    "window_end": "2026-11-28T00:00:00Z",
}
ALL = {"window": "all", "period": None, "window_start": None, "window_end": None}
CONFIG = BoardsConfig(
    boards={
        "arena": BoardConfig(windows=("daily", "all")),
        "quiet": BoardConfig(timezone="Europe/Berlin", windows=("daily", "weekly")),
    }
)


def change(window: dict[str, object], user: str, new: int, score: int) -> bytes:
    record = {"type": "rank_change", "board": "arena", **window, "user": user}
    record |= {"old_rank": None, "new_rank": new, "score": score, "cause": f"e-{user}"}
    return json.dumps(record).encode()


def view_with(*records: bytes) -> WatchView:
    view = WatchView(config=CONFIG)
    for record in records:
        assert view.apply_raw(record)
    return view


def headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if " / " in line]


def test_current_windows_of_every_board_empty_until_changes() -> None:
    view = view_with(change(DAY, "ada", 1, 50), change(ALL, "ada", 1, 50))
    text = render_frame(view, now_ms=parse_rfc3339_ms("2026-11-27T12:00:00Z")).text
    assert headings(text) == [
        "arena / daily  period 2026-11-27  ends 2026-11-28T00:00:00Z",
        "arena / all",
        "quiet / daily  period 2026-11-27  ends 2026-11-27T23:00:00Z",
        "quiet / weekly  period 2026-11-23  ends 2026-11-29T23:00:00Z",
    ]
    assert text.count("(empty)") == 2  # quiet's two windows
    assert text.count("ada") == 2


def test_midnight_brings_the_new_day_and_keeps_yesterday() -> None:
    view = view_with(change(DAY, "ada", 1, 50), change(DAY, "bob", 2, 40))
    before = parse_rfc3339_ms("2026-11-27T23:59:59.999Z")
    after = before + 1
    assert view.rollover(before) != view.rollover(after)  # watch() redraws then
    frame = render_frame(view, now_ms=after, boards={"arena"})
    lines = frame.text.splitlines()
    assert headings(frame.text) == [
        "arena / daily  period 2026-11-27  ends 2026-11-28T00:00:00Z  (previous)",
        "arena / daily  period 2026-11-28  ends 2026-11-29T00:00:00Z",
        "arena / all",
    ]
    today = lines.index("arena / daily  period 2026-11-28  ends 2026-11-29T00:00:00Z")
    assert lines[today + 1].strip() == "(empty)"
    assert [line.split()[1] for line in lines[today - 3 : today - 1]] == ["ada", "bob"]
    closed = {"type": "window_closed", "board": "arena", **DAY, "standings": []}
    view.apply_raw(json.dumps(closed).encode())
    text = render_frame(view, now_ms=after, boards={"arena"}).text
    assert "period 2026-11-27  ends 2026-11-28T00:00:00Z  (closed)" in text
    # The first change of the new day: the current window fills, yesterday stays.
    today = DAY | {"period": "2026-11-28", "window_end": "2026-11-29T00:00:00Z"}
    view.apply_raw(change(today, "cy", 1, 5))
    text = render_frame(view, now_ms=after, boards={"arena"}).text
    assert headings(text) == [
        "arena / daily  period 2026-11-27  ends 2026-11-28T00:00:00Z  (closed)",
        "arena / daily  period 2026-11-28  ends 2026-11-29T00:00:00Z",
        "arena / all",
    ]
    lines = text.splitlines()
    today_at = lines.index("arena / daily  period 2026-11-28  ends 2026-11-29T00:00:00Z")
    assert lines[today_at + 1].split()[:3] == ["1", "cy", "5"]


def test_a_change_ahead_of_the_clock_is_shown_after_the_current_window() -> None:
    """Events may be a few minutes ahead of the wall clock: tomorrow's first change
    before midnight shows tomorrow after today, marked next."""
    tomorrow = DAY | {"period": "2026-11-28", "window_end": "2026-11-29T00:00:00Z"}
    view = view_with(change(DAY, "ada", 1, 50), change(tomorrow, "bob", 1, 9))
    text = render_frame(view, now_ms=parse_rfc3339_ms("2026-11-27T23:58:00Z")).text
    assert headings(text)[:2] == [
        "arena / daily  period 2026-11-27  ends 2026-11-28T00:00:00Z",
        "arena / daily  period 2026-11-28  ends 2026-11-29T00:00:00Z  (next)",
    ]


def test_without_a_clock_the_newest_periods_as_before() -> None:
    view = view_with(change(DAY, "ada", 1, 50))
    assert headings(render_frame(view).text) == [
        "arena / daily  period 2026-11-27  ends 2026-11-28T00:00:00Z"
    ]
