"""Queries (streams/engine/query.py) against the reference model: pages with offsets, exact
ranks of users far outside the top-K, several users at once, past retained periods, and
the errors for unknown boards, windows, periods and bad parameters."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings

from streams.engine import query, ranktree
from streams.engine.config import BoardConfig, BoardsConfig
from streams.engine.core import Engine
from streams.engine.events import ScoreEvent, WindowRef
from streams.engine.query import QueryError
from streams.engine.storage import MemoryStore

from .reference import Reference
from .test_engine_property import NOW, scenarios

HOUR = 3_600_000


def windows_of(engine: Engine, board: str) -> list[WindowRef]:
    info = query.board_windows(engine, board, NOW)
    return [*info.open, *info.closed]


def check_against_reference(engine: Engine, ref: Reference) -> int:
    """Every query on every retained window equals the reference; returns windows checked."""
    checked = 0
    for board in engine.boards():
        for window in windows_of(engine, board):
            expected = ref.standings((board, window.kind, window.period))
            assert query.window_size(engine, board, window) == len(expected)
            rows = [(r + 1, u, s) for r, (u, s) in enumerate(expected)]
            got = query.page(engine, board, window, 0, query.MAX_LIMIT)
            assert [(e.rank, e.user, e.score) for e in got] == rows[: query.MAX_LIMIT]
            for offset in (1, 2, len(rows) // 2, len(rows)):
                page = query.page(engine, board, window, offset, 3)
                assert [(e.rank, e.user, e.score) for e in page] == rows[offset : offset + 3]
            for rank, user, score in rows:
                found = query.user_rank(engine, board, window, user, around=2)
                assert found is not None
                assert (found.rank, found.score) == (rank, score)
                near = [r for r in rows[max(0, rank - 3) : rank + 2] if r[0] != rank]
                assert [(e.rank, e.user, e.score) for e in found.neighbors] == near
            assert query.user_rank(engine, board, window, "nobody") is None
            ids = [u for _, u, _ in rows][:5]
            many = query.users_ranks(engine, board, window, [*ids, "x?"])
            assert [None if m is None else (m.rank, m.user, m.score) for m in many] == [
                *rows[:5],
                None,
            ]
            checked += 1
    return checked


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_queries_match_reference(scenario: tuple[BoardsConfig, list[ScoreEvent]]) -> None:
    config, events = scenario
    engine = Engine(config, MemoryStore(), lambda: NOW)
    ref = Reference(config, NOW)
    for event in events:
        engine.apply(event)
        ref.apply(event)
    check_against_reference(engine, ref)


def test_exact_ranks_far_outside_top_k(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few thousand events, 600 users, top 5, tiny tree nodes: splits and merges happen,
    sum scores go up and down (negative scores), three windows per board, days close."""
    monkeypatch.setattr(ranktree, "BUCKET_MAX", 6)
    monkeypatch.setattr(ranktree, "FANOUT", 5)
    config = BoardsConfig(
        defaults=BoardConfig(top=5, retain=2, grace_seconds=0),
        boards={"lap": BoardConfig(aggregate="min", order="asc", top=3)},
    )
    now = 1_800_000_000_000
    engine = Engine(config, MemoryStore(), lambda: now, tree_cache_nodes=16)
    ref = Reference(config, now)
    rng = random.Random(7)
    start = now - 4 * 24 * HOUR
    for n in range(3000):
        event = ScoreEvent(
            f"e{n}",
            rng.choice(["arena", "lap"]),
            f"u{rng.randrange(600)}",
            rng.randint(-40, 100),
            start + n * 100_000 + rng.randint(-HOUR, HOUR),
        )
        engine.apply(event)
        ref.apply(event)
    assert check_against_reference(engine, ref) >= 8


def errors(call: object) -> tuple[int, str]:
    with pytest.raises(QueryError) as info:
        call()  # type: ignore[operator]
    return info.value.status, info.value.code


def test_errors_name_the_problem() -> None:
    config = BoardsConfig(boards={"days": BoardConfig(windows=("daily",)), "quiet": BoardConfig()})
    engine = Engine(config, MemoryStore(), lambda: NOW)
    engine.apply(ScoreEvent("e1", "days", "ann", 5, NOW - HOUR))
    engine.apply(ScoreEvent("e2", "free", "bob", 5, NOW - HOUR))
    daily, _ = query.resolve(engine, "days", "daily", None, NOW)
    assert query.resolve(engine, "days", "daily", daily.period, NOW) == (daily, True)
    assert query.resolve(engine, "free", "all", None, NOW)[0].kind == "all"
    assert errors(lambda: query.resolve(engine, "nope", "daily", None, NOW)) == (
        404,
        "unknown_board",
    )
    assert errors(lambda: query.resolve(engine, "days", "all", None, NOW)) == (
        404,
        "unknown_window",
    )
    assert errors(lambda: query.resolve(engine, "days", "hourly", None, NOW)) == (
        404,
        "unknown_window",
    )
    assert errors(lambda: query.resolve(engine, "days", "daily", "2001-01-01", NOW)) == (
        404,
        "unknown_period",
    )
    assert errors(lambda: query.resolve(engine, "free", "all", "2001-01-01", NOW)) == (
        404,
        "unknown_period",
    )
    # A configured board without events: its current window, open and empty.
    weekly, is_open = query.resolve(engine, "quiet", "weekly", None, NOW)
    assert (weekly.period, is_open, query.window_size(engine, "quiet", weekly)) == (
        "2026-12-28",
        True,
        0,
    )
    for call in (
        lambda: query.page(engine, "days", daily, -1, 10),
        lambda: query.page(engine, "days", daily, 0, 0),
        lambda: query.page(engine, "days", daily, 0, query.MAX_LIMIT + 1),
        lambda: query.user_rank(engine, "days", daily, "ann", around=query.MAX_AROUND + 1),
        lambda: query.users_ranks(engine, "days", daily, []),
        lambda: query.users_ranks(engine, "days", daily, ["a"] * (query.MAX_IDS + 1)),
    ):
        assert errors(call) == (400, "bad_parameter")
    # A configured board without events is known; asking for made-up boards caches nothing.
    assert query.board_windows(engine, "days", NOW).kinds == ("daily",)
    assert engine.known("free") and not engine.known("made-up")
    assert engine.boards() == ["days", "free"]
