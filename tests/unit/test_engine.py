"""Table-driven engine tests: aggregates, ties, lateness and grace, dedup, close, retention."""

from __future__ import annotations

import itertools
import subprocess
import sys
from typing import Any

import pytest

from schemas.timefmt import parse_rfc3339_ms
from streams.engine.config import BoardConfig, BoardsConfig
from streams.engine.core import Engine, Outcome
from streams.engine.events import RankChange, ScoreEvent, WindowClosed
from streams.engine.storage import MemoryStore
from streams.engine.windows import Calendar

T0 = parse_rfc3339_ms("2026-11-27T10:00:00Z")
NOW = T0 + 86_400_000 * 30
MIN = 60_000
_ids = itertools.count()


def engine(store: MemoryStore | None = None, **board: Any) -> Engine:
    config = BoardsConfig(defaults=BoardConfig(**{"windows": ("all",), **board}))
    return Engine(config, store or MemoryStore(), lambda: NOW)


def ev(user: str, score: int, at: int = 0, eid: str | None = None, board: str = "b") -> ScoreEvent:
    return ScoreEvent(eid or f"e{next(_ids)}", board, user, score, T0 + at * MIN)


def top(e: Engine, kind: str = "all", board: str = "b", at: int = 0) -> list[tuple[int, str, int]]:
    return e.top(board, Calendar("UTC", 0).window(kind, T0 + at * MIN))


# (aggregate, order, events as (user, score, minute[, event_id]), expected top)
CASES = [
    ("sum", "desc", [("a", 5, 0), ("b", 3, 1), ("b", 3, 2)], [(1, "b", 6), (2, "a", 5)]),
    ("sum", "desc", [("a", 5, 0), ("a", -7, 1), ("b", 0, 2)], [(1, "b", 0), (2, "a", -2)]),
    ("max", "desc", [("a", 5, 0), ("a", 2, 1), ("b", 4, 2)], [(1, "a", 5), (2, "b", 4)]),
    ("min", "asc", [("a", 50, 0), ("a", 70, 1), ("b", 60, 2)], [(1, "a", 50), (2, "b", 60)]),
    ("min", "desc", [("a", 50, 0), ("a", 40, 1), ("b", 45, 2)], [(1, "b", 45), (2, "a", 40)]),
    ("last", "desc", [("a", 9, 5), ("a", 1, 3), ("b", 4, 2)], [(1, "a", 9), (2, "b", 4)]),
    # last: equal ts -> the greater event_id wins
    ("last", "desc", [("a", 9, 5, "x2"), ("a", 1, 5, "x1")], [(1, "a", 9)]),
    ("last", "desc", [("a", 1, 5, "x1"), ("a", 9, 5, "x2")], [(1, "a", 9)]),
    # ties on score: earlier "reached" first; sum reaches at its latest event
    ("sum", "desc", [("a", 3, 0), ("b", 3, 1)], [(1, "a", 3), (2, "b", 3)]),
    ("sum", "desc", [("a", 1, 0), ("b", 3, 1), ("a", 2, 2)], [(1, "b", 3), (2, "a", 3)]),
    # max: reached is the earliest time that score was scored, even if it arrives late
    ("max", "desc", [("a", 3, 5), ("b", 3, 3), ("a", 3, 1)], [(1, "a", 3), (2, "b", 3)]),
    # full tie on score and time: code-point order of the user name
    (
        "sum",
        "desc",
        [("b", 1, 0), ("a", 1, 0), ("é", 1, 0), ("Z", 1, 0)],
        [(1, "Z", 1), (2, "a", 1), (3, "b", 1), (4, "é", 1)],
    ),
]


@pytest.mark.parametrize(("aggregate", "order", "events", "expected"), CASES)
def test_aggregates_orders_and_ties(
    aggregate: str, order: str, events: list[tuple[Any, ...]], expected: list[tuple[int, str, int]]
) -> None:
    e = engine(aggregate=aggregate, order=order, top=10)
    for row in events:
        assert e.apply(ev(*row)).outcome is Outcome.APPLIED
    assert top(e) == expected


def changes(result: Any) -> list[tuple[str, int | None, int | None, int]]:
    return [
        (c.user, c.old_rank, c.new_rank, c.score)
        for c in result.records
        if isinstance(c, RankChange)
    ]


def test_rank_changes_on_overtake_and_refill_from_outside_top_k() -> None:
    e = engine(top=2)
    e.apply(ev("a", 10))
    e.apply(ev("b", 8))
    e.apply(ev("c", 5))  # outside the top-2: no change emitted
    assert changes(e.apply(ev("c", 1))) == []
    assert changes(e.apply(ev("c", 5))) == [("c", None, 1, 11), ("a", 1, 2, 10), ("b", 2, None, 8)]
    # c's score gets worse and it leaves; b, the best outside, must come back in
    assert changes(e.apply(ev("c", -20))) == [
        ("c", 1, None, -9),
        ("a", 2, 1, 10),
        ("b", None, 2, 8),
    ]
    assert top(e) == [(1, "a", 10), (2, "b", 8)]


def test_score_change_without_rank_change_is_emitted() -> None:
    e = engine(top=3)
    e.apply(ev("a", 10))
    assert changes(e.apply(ev("a", 1))) == [("a", 1, 1, 11)]
    assert changes(e.apply(ev("a", 0))) == []  # neither rank nor score changed


def test_duplicates_are_dropped_and_counted_not_applied() -> None:
    e = engine()
    assert e.apply(ev("a", 5, eid="x")).outcome is Outcome.APPLIED
    again = e.apply(ev("a", 5, eid="x"))
    assert (again.outcome, again.records) == (Outcome.DUPLICATE, ())
    assert e.apply(ev("a", 5, eid="x", board="other")).outcome is Outcome.APPLIED  # per board
    assert top(e) == [(1, "a", 5)]


@pytest.mark.parametrize(("ahead_s", "outcome"), [(600, Outcome.APPLIED), (601, Outcome.FUTURE)])
def test_future_rule(ahead_s: int, outcome: Outcome) -> None:
    e = engine()
    event = ScoreEvent("f", "b", "a", 1, NOW + ahead_s * 1000)
    result = e.apply(event)
    assert result.outcome is outcome
    if outcome is Outcome.FUTURE:
        assert result.records == () and top(e) == []


# grace 300 s: the daily window of 2026-11-27 closes once the watermark reaches 00:05 on the 28th
@pytest.mark.parametrize(
    ("watermark_at", "late"),
    [("2026-11-28T00:04:59.999Z", []), ("2026-11-28T00:05:00Z", ["daily"])],
)
def test_lateness_is_per_window_and_respects_grace(watermark_at: str, late: list[str]) -> None:
    e = engine(windows=("daily", "weekly", "all"), grace_seconds=300)
    e.apply(ScoreEvent("w", "b", "x", 1, parse_rfc3339_ms(watermark_at)))
    result = e.apply(ScoreEvent("l", "b", "a", 7, parse_rfc3339_ms("2026-11-27T23:59:00Z")))
    assert result.outcome is Outcome.APPLIED and list(result.late) == late
    kinds = {c.window.kind for c in result.records if isinstance(c, RankChange)}
    assert kinds == {"daily", "weekly", "all"} - set(late)


def test_window_closes_once_right_after_the_closing_event() -> None:
    e = engine(windows=("daily", "all"), grace_seconds=0, top=5)
    e.apply(ScoreEvent("1", "b", "a", 3, parse_rfc3339_ms("2026-11-27T22:00:00Z")))
    e.apply(ScoreEvent("2", "b", "b", 5, parse_rfc3339_ms("2026-11-27T23:00:00Z")))
    closing = e.apply(ScoreEvent("3", "b", "c", 1, parse_rfc3339_ms("2026-11-28T00:00:00Z")))
    assert isinstance(closing.records[-1], WindowClosed)
    closed = closing.records[-1]
    assert (closed.window.kind, closed.window.period) == ("daily", "2026-11-27")
    assert [(s.rank, s.user, s.score) for s in closed.standings] == [(1, "b", 5), (2, "a", 3)]
    later = e.apply(ScoreEvent("4", "b", "c", 1, parse_rfc3339_ms("2026-11-28T05:00:00Z")))
    assert not any(isinstance(r, WindowClosed) for r in later.records)


def test_window_without_events_never_reports_closed() -> None:
    e = engine(windows=("daily",), grace_seconds=0)
    e.apply(ScoreEvent("1", "b", "a", 3, parse_rfc3339_ms("2026-11-20T12:00:00Z")))
    r = e.apply(ScoreEvent("2", "b", "a", 3, parse_rfc3339_ms("2026-11-27T12:00:00Z")))
    assert [c.window.period for c in r.records if isinstance(c, WindowClosed)] == ["2026-11-20"]


def test_retention_drops_closed_windows_beyond_retain_from_the_store() -> None:
    store = MemoryStore()
    e = engine(store, windows=("daily",), grace_seconds=0, retain=2)
    for day in range(20, 26):
        e.apply(ScoreEvent(f"d{day}", "b", "a", 1, parse_rfc3339_ms(f"2026-11-{day}T12:00:00Z")))
    daily = sorted({s.split(b"\x00")[3].decode() for s in store.spaces() if s.startswith(b"I\x00")})
    # 20..24 closed, only the newest two closed plus the open 25th stay
    assert daily == ["2026-11-23", "2026-11-24", "2026-11-25"]


def test_state_survives_a_new_engine_on_the_same_store() -> None:
    """Caches are derived: a fresh engine on the same store (a restart) continues exactly."""
    store = MemoryStore()
    first = engine(store, top=2, windows=("daily", "all"), grace_seconds=0)
    first.apply(ScoreEvent("1", "b", "a", 3, parse_rfc3339_ms("2026-11-27T22:00:00Z")))
    first.apply(ScoreEvent("2", "b", "b", 5, parse_rfc3339_ms("2026-11-27T23:00:00Z")))
    second = engine(store, top=2, windows=("daily", "all"), grace_seconds=0)
    assert second.apply(ScoreEvent("1", "b", "a", 3, T0)).outcome is Outcome.DUPLICATE
    r = second.apply(ScoreEvent("3", "b", "a", 4, parse_rfc3339_ms("2026-11-28T00:00:00Z")))
    closed = [c for c in r.records if isinstance(c, WindowClosed)]
    assert [(s.user, s.score) for s in closed[0].standings] == [("b", 5), ("a", 3)]
    assert top(second) == [(1, "a", 7), (2, "b", 5)]


def test_engine_imports_no_framework() -> None:
    code = (
        "import sys, streams.engine.core, streams.engine.config, streams.engine.storage;"
        "bad = [m for m in ('faust', 'aiokafka', 'aio_pika', 'pydantic') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_an_engine_without_rank_trees_refuses_rank_queries() -> None:
    config = BoardsConfig(defaults=BoardConfig(windows=("all",)))
    e = Engine(config, MemoryStore(), lambda: NOW, ranks=False)
    e.apply(ev("ada", 5))
    window = Calendar("UTC", 0).window("all", T0)
    with pytest.raises(RuntimeError, match="ranks=False"):
        e.window_size("b", window)
    assert top(e) == [(1, "ada", 5)]
