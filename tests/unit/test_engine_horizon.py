"""Table tests of contract v2 in the engine: the dedup horizon (``too_old``, duplicates just
inside and just outside it, buckets that actually leave the store) and idle close (windows
close at ``end + grace`` of the wall clock, a busy board is untouched, no double close
after a restart)."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.timefmt import parse_rfc3339_ms
from streams.engine.config import BoardConfig, BoardsConfig
from streams.engine.core import Engine, Outcome
from streams.engine.events import ScoreEvent, WindowClosed
from streams.engine.storage import MemoryStore

T0 = parse_rfc3339_ms("2026-11-27T10:00:00Z")
HOUR = 3_600_000
DAY = 24 * HOUR
NOW = T0 + 60 * DAY


def make(store: MemoryStore | None = None, **board: Any) -> Engine:
    config = BoardsConfig(defaults=BoardConfig(**{"windows": ("all",), **board}))
    return Engine(config, store or MemoryStore(), lambda: NOW)


def ev(eid: str, ts: int, score: int = 1, user: str = "a", board: str = "b") -> ScoreEvent:
    return ScoreEvent(eid, board, user, score, ts)


def all_top(e: Engine, board: str = "b") -> list[tuple[int, str, int]]:
    from streams.engine.windows import Calendar

    return e.top(board, Calendar("UTC", 0).window("all", T0))


# horizon 1 h: the watermark is T0 + 1 h, so T0 is exactly on the horizon
@pytest.mark.parametrize(
    ("ts", "outcome"),
    [
        (T0, Outcome.APPLIED),  # ts == watermark - horizon: still checkable
        (T0 - 1, Outcome.TOO_OLD),
        (T0 - 30 * DAY, Outcome.TOO_OLD),
    ],
)
def test_too_old_is_applied_nowhere(ts: int, outcome: Outcome) -> None:
    e = make(dedup_seconds=3600, windows=("daily", "all"))
    e.apply(ev("w", T0 + HOUR, score=5, user="w"))
    result = e.apply(ev("old", ts, score=100))
    assert result.outcome is outcome
    if outcome is Outcome.TOO_OLD:
        assert result.records == () and result.late == ()
        assert all_top(e) == [(1, "w", 5)]  # not even the `all` window
        # not remembered either: the same id inside the horizon is a new event
        assert e.apply(ev("old", T0 + HOUR, score=1)).outcome is Outcome.APPLIED


def test_without_a_horizon_nothing_is_too_old_and_ids_stay() -> None:
    e = make(dedup_seconds=0)
    e.apply(ev("x", T0))
    e.apply(ev("w", T0 + 50 * DAY))
    assert e.apply(ev("old", T0 - 50 * DAY)).outcome is Outcome.APPLIED
    assert e.apply(ev("x", T0 + 50 * DAY)).outcome is Outcome.DUPLICATE


# horizon 8 h -> buckets of 1 h. "x" at T0 + 30 min is in the bucket ending T0 + 1 h, so it
# is remembered while the watermark is below T0 + 9 h, whatever the duplicate's own ts.
@pytest.mark.parametrize(
    ("watermark", "outcome"),
    [
        (T0 + 9 * HOUR - 1, Outcome.DUPLICATE),  # just inside: the bucket is not wholly behind
        (T0 + 9 * HOUR, Outcome.APPLIED),  # just outside: the bucket is behind, id forgotten
    ],
)
def test_duplicate_just_inside_and_just_outside_the_horizon(
    watermark: int, outcome: Outcome
) -> None:
    e = make(dedup_seconds=8 * 3600)
    assert e.apply(ev("x", T0 + HOUR // 2)).outcome is Outcome.APPLIED
    e.apply(ev("w", watermark, user="w"))
    # A duplicate with a newer ts (inside the horizon), so it cannot be too_old.
    assert e.apply(ev("x", watermark - HOUR)).outcome is outcome


def test_a_remembered_id_is_a_duplicate_whatever_its_ts() -> None:
    """Contract section 1: not a dead letter, even with a ts behind the horizon; only an
    unknown id that old is too_old."""
    e = make(dedup_seconds=8 * 3600)
    e.apply(ev("x", T0 + 5 * HOUR, score=3))
    e.apply(ev("w", T0 + 8 * HOUR, user="w"))  # the horizon is now at T0
    for ts in (T0 - 30 * DAY, T0 - 1, T0, T0 + 5 * HOUR, T0 + 7 * HOUR + 1):
        assert e.apply(ev("x", ts, score=9)).outcome is Outcome.DUPLICATE
    assert e.apply(ev("y", T0 - 1, score=9)).outcome is Outcome.TOO_OLD  # unknown and old
    assert all_top(e) == [(1, "a", 3), (2, "w", 1)]


def dedup_keys(store: MemoryStore) -> dict[bytes, int]:
    """Keys per dedup space kind (D: ids, Q: bucket list, X: bucket members)."""
    counts: dict[bytes, int] = {}
    for space in store.spaces():
        tag = space[:1]
        if tag in (b"D", b"Q", b"X"):
            counts[tag] = counts.get(tag, 0) + sum(1 for _ in store.scan(space))
    return counts


def test_expired_buckets_leave_the_store() -> None:
    store = MemoryStore()
    e = make(store, dedup_seconds=8 * 3600)  # buckets of 1 h
    for n in range(300):  # 300 ids over 3 h: three buckets
        e.apply(ev(f"a{n}", T0 + n * 36_000))
    assert dedup_keys(store) == {b"D": 300, b"Q": 3, b"X": 300}
    # 12 h later: the first three buckets are behind; one event moves the watermark there
    # and (budget 64 ids per event) the following events finish the clean-up.
    for n in range(10):
        e.apply(ev(f"b{n}", T0 + 12 * HOUR + n))
    assert dedup_keys(store) == {b"D": 10, b"Q": 1, b"X": 10}
    assert list(e.dedup("b").buckets()) == [T0 + 13 * HOUR]
    # and the forgotten ids are really forgotten (new again inside the horizon)
    assert e.apply(ev("a0", T0 + 12 * HOUR)).outcome is Outcome.APPLIED


def test_the_clean_up_resumes_on_a_new_engine() -> None:
    store = MemoryStore()
    e = make(store, dedup_seconds=8 * 3600)
    for n in range(200):
        e.apply(ev(f"a{n}", T0 + n))
    e.apply(ev("w", T0 + 10 * HOUR))  # 64 of 200 cleaned
    assert dedup_keys(store)[b"X"] == 200 - 64 + 1
    again = make(store, dedup_seconds=8 * 3600)
    assert again.apply(ev("a5", T0 + 10 * HOUR)).outcome is Outcome.APPLIED  # forgotten
    assert again.apply(ev("a150", T0 + 10 * HOUR)).outcome is Outcome.APPLIED  # not yet cleaned
    again.advance_watermark("b", T0 + 10 * HOUR + 1)  # idle close: a larger budget
    assert dedup_keys(store) == {b"D": 3, b"Q": 1, b"X": 3}


def test_ids_stored_before_the_horizon_existed_stay_seen() -> None:
    """State written before v2 (an empty value under D) reads as seen, forever."""
    store = MemoryStore()
    store.put(b"D\x00b", b"legacy", b"")
    e = make(store, dedup_seconds=3600)
    e.apply(ev("w", T0 + 50 * DAY))
    assert e.apply(ev("legacy", T0 + 50 * DAY)).outcome is Outcome.DUPLICATE


# -- idle close ------------------------------------------------------------------------

DAILY_END = parse_rfc3339_ms("2026-11-28T00:00:00Z")  # end of the daily window of T0
GRACE = 300_000


def closed(records: list[Any]) -> list[tuple[str, str | None, list[tuple[int, str, int]]]]:
    return [
        (r.window.kind, r.window.period, [(s.rank, s.user, s.score) for s in r.standings])
        for r in records
        if isinstance(r, WindowClosed)
    ]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (DAILY_END + GRACE - 1, []),
        (DAILY_END + GRACE, [("daily", "2026-11-27", [(1, "b", 7), (2, "a", 3)])]),
    ],
)
def test_idle_close_at_end_plus_grace_of_the_wall_clock(
    now: int, expected: list[tuple[str, str | None, list[tuple[int, str, int]]]]
) -> None:
    e = make(windows=("daily", "all"), grace_seconds=300)
    e.apply(ev("1", T0, score=3, user="a"))
    e.apply(ev("2", T0 + HOUR, score=7, user="b"))
    assert closed(e.advance_watermark("b", now)) == expected
    assert e.windows("b")[0] == now


def test_a_late_event_after_an_idle_close_is_late_for_that_window() -> None:
    e = make(windows=("daily", "all"), grace_seconds=300)
    e.apply(ev("1", T0, score=3))
    e.advance_watermark("b", DAILY_END + GRACE)
    result = e.apply(ev("2", T0 + HOUR, score=4))
    assert result.outcome is Outcome.APPLIED and result.late == ("daily",)


def test_a_busy_board_is_unchanged_by_an_idle_close() -> None:
    """The watermark never goes back: an idle close at or before it changes nothing."""
    store = MemoryStore()
    e = make(store, windows=("daily", "all"), grace_seconds=0)
    e.apply(ev("1", DAILY_END + HOUR, score=3))
    before = {space: list(store.scan(space)) for space in store.spaces()}
    for now in (DAILY_END, DAILY_END + HOUR):
        assert e.advance_watermark("b", now) == []
    assert {space: list(store.scan(space)) for space in store.spaces()} == before
    assert e.windows("b")[0] == DAILY_END + HOUR


def test_a_board_without_events_is_left_alone() -> None:
    store = MemoryStore()
    e = make(store)
    assert e.advance_watermark("nobody", NOW) == [] and store.spaces() == []
    assert e.close_idle(NOW) == []


def test_no_double_close_after_a_restart() -> None:
    store = MemoryStore()
    e = make(store, windows=("daily", "all"), grace_seconds=300)
    e.apply(ev("1", T0, score=3))
    assert len(closed(e.advance_watermark("b", DAILY_END + GRACE))) == 1
    restarted = make(store, windows=("daily", "all"), grace_seconds=300)
    assert restarted.advance_watermark("b", DAILY_END + 2 * GRACE) == []
    assert restarted.close_idle(DAILY_END + DAY) == []
    assert restarted.apply(ev("2", T0 + HOUR)).late == ("daily",)


def test_close_idle_takes_every_board_in_name_order_unless_switched_off() -> None:
    config = BoardsConfig(
        defaults=BoardConfig(windows=("daily",), grace_seconds=0),
        boards={"off": BoardConfig(windows=("daily",), grace_seconds=0, idle_close_seconds=0)},
    )
    e = Engine(config, MemoryStore(), lambda: NOW)
    for board in ("zed", "off", "abc"):
        e.apply(ev("1", T0, board=board))
    records = e.close_idle(DAILY_END)
    assert [r.board for r in records] == ["abc", "zed"]
    assert e.windows("off")[0] == T0


def test_an_idle_close_moves_the_horizon_too() -> None:
    """Contract, literally: after a real idle close a very old event is too_old."""
    e = make(dedup_seconds=3600)
    e.apply(ev("1", T0))
    e.advance_watermark("b", T0 + 2 * HOUR)
    assert e.apply(ev("2", T0 + HOUR - 1)).outcome is Outcome.TOO_OLD
