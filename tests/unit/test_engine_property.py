"""Property: on random streams the engine's folded output equals the reference, event by event.

Streams mix in idle closes (the watermark moved to a wall-clock time) and, with short
dedup horizons, events and duplicates that are old enough to be ``too_old`` or to have
had their id forgotten, just inside and just outside the horizon."""

from __future__ import annotations

from typing import Any, NamedTuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.timefmt import parse_rfc3339_ms
from streams.engine.config import BoardConfig, BoardsConfig
from streams.engine.core import Engine, Outcome
from streams.engine.events import RankChange, Record, ScoreEvent, WindowClosed
from streams.engine.storage import MemoryStore

from .reference import Reference, WindowId

# Bases next to DST switches so 23- and 25-hour days show up in random streams.
BASES = [
    parse_rfc3339_ms("2026-03-28T12:00:00Z"),  # Europe springs forward on the 29th
    parse_rfc3339_ms("2026-10-31T12:00:00Z"),  # US falls back on 1 Nov
    parse_rfc3339_ms("2026-04-04T10:00:00Z"),  # Lord Howe: 30-minute DST shift
]
NOW = parse_rfc3339_ms("2026-12-31T00:00:00Z")
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
USERS = ["a", "b", "é", "Z"]  # few users, so ties and top-K churn are common
HOUR = 3_600_000

board_configs = st.builds(
    BoardConfig,
    aggregate=st.sampled_from(["sum", "max", "min", "last"]),
    order=st.sampled_from(["desc", "asc"]),
    windows=st.sets(st.sampled_from(["daily", "weekly", "all"]), min_size=1).map(
        lambda s: tuple(k for k in ("daily", "weekly", "all") if k in s)
    ),
    top=st.integers(1, 4),
    timezone=st.sampled_from(ZONES),
    week_start=st.integers(0, 6),
    grace_seconds=st.sampled_from([0, 60, 3600, 86400]),
    retain=st.integers(0, 3),
    # Short horizons (buckets of 450 s and 3 h) make old events and forgotten ids common.
    dedup_seconds=st.sampled_from([0, 3600, 86400, 691200, 691200, 691200]),
    idle_close_seconds=st.sampled_from([0, 60]),
)


class Idle(NamedTuple):
    """An idle close of ``board`` at wall-clock time ``now``."""

    board: str
    now: int


Step = ScoreEvent | Idle


@st.composite
def scenarios(draw: st.DrawFn, idle: bool = False) -> tuple[BoardsConfig, list[Step]]:
    """A config and a stream of events; with ``idle``, idle closes mixed in (Idle steps)."""
    config = BoardsConfig(
        max_future_seconds=600,
        defaults=draw(board_configs),
        boards={"x": draw(board_configs), "y": draw(board_configs)},
    )
    base = draw(st.sampled_from(BASES))
    clock = base
    events: list[Step] = []
    for n in range(draw(st.integers(1, 60))):
        if idle and draw(st.integers(0, 12)) == 0:
            # The wall clock a little (or a day) after the stream's time: an idle close.
            ahead = draw(st.sampled_from([0, 1, 300_000, HOUR, 24 * HOUR]))
            events.append(Idle(draw(st.sampled_from(["x", "y", "z"])), clock + ahead))
            continue
        # Mostly forward in time, sometimes far back (late) or far forward (closes windows).
        clock += draw(st.sampled_from([0, HOUR, HOUR, 5 * HOUR, 24 * HOUR, -HOUR, -30 * HOUR]))
        # Hour-aligned times with tiny jitter hit window ends and end + grace exactly.
        jitter = draw(st.sampled_from([0, 0, 1, -1, 60_000, -60_000, None]))
        ts = max(0, clock + (draw(st.integers(-HOUR, HOUR)) if jitter is None else jitter))
        if draw(st.integers(0, 15)) == 0:
            # Exactly one horizon back, give or take a millisecond: too_old or just inside.
            back = draw(st.sampled_from([3600, 86400, 691200])) * 1000
            ts = max(0, clock - back + draw(st.sampled_from([-1, 0, 1])))
        if draw(st.integers(0, 40)) == 0:
            ts = NOW + 3_600_000  # future
        events.append(
            ScoreEvent(
                event_id=f"e{draw(st.integers(0, n + 2))}",  # reuse ids to make duplicates
                board=draw(st.sampled_from(["x", "x", "y", "z"])),
                user=draw(st.sampled_from(USERS)),
                # Small scores tie often (exercising the tie-breaks); extremes test the codec.
                score=draw(st.integers(-2, 2))
                if draw(st.integers(0, 9))
                else draw(st.sampled_from([2**53 - 1, -(2**53 - 1)])),
                ts=ts,
            )
        )
    return config, events


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(idle=True), st.booleans())
def test_engine_folds_to_reference(scenario: tuple[BoardsConfig, list[Step]], ranks: bool) -> None:
    """With and without rank trees (replay runs without): the records must not differ."""
    check_against_reference(scenario, ranks)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(idle=True))
def test_dedup_clean_up_progress_changes_no_answer(
    scenario: tuple[BoardsConfig, list[Step]],
) -> None:
    """The same check with a clean-up budget of one id per event, far behind the input:
    forgotten ids must read as forgotten whether or not their keys are gone yet."""
    check_against_reference(scenario, False, event_budget=1)


def check_against_reference(
    scenario: tuple[BoardsConfig, list[Step]], ranks: bool, event_budget: int | None = None
) -> None:
    config, events = scenario
    engine = Engine(config, MemoryStore(), lambda: NOW, ranks=ranks, event_budget=event_budget)
    ref = Reference(config, NOW)
    folded: dict[WindowId, dict[str, tuple[int, int]]] = {}
    for event in events:
        if isinstance(event, Idle):
            records = engine.advance_watermark(event.board, event.now)
            assert closed_of(records) == ref.idle(event.board, event.now), event
            continue
        result = engine.apply(event)
        outcome, touched, closed = ref.apply(event)
        assert result.outcome.value == outcome, event
        changes = [r for r in result.records if isinstance(r, RankChange)]
        closes = [r for r in result.records if isinstance(r, WindowClosed)]
        # All changes of one cause for one window are consecutive, and come before closes.
        seen_windows: list[WindowId] = []
        for change in changes:
            wid = (change.board, change.window.kind, change.window.period)
            assert change.cause == event.event_id
            if not seen_windows or seen_windows[-1] != wid:
                assert wid not in seen_windows, "changes of one window must be consecutive"
                seen_windows.append(wid)
            board = folded.setdefault(wid, {})
            if change.old_rank is not None:
                assert board.get(change.user, (None,))[0] == change.old_rank, change
            if change.new_rank is None:
                board.pop(change.user, None)
            else:
                board[change.user] = (change.new_rank, change.score)
        assert set(seen_windows) <= set(touched)
        if result.records:
            assert list(result.records[: len(changes)]) == changes
        for wid in touched:
            expected = {u: (rank, s) for rank, u, s in ref.top(wid)}
            assert folded.get(wid, {}) == expected, (wid, event)
        assert closed_of(closes) == closed
        if outcome != "applied":
            assert result.records == () and result.outcome is not Outcome.APPLIED


def closed_of(records: list[Record] | list[WindowClosed]) -> list[tuple[WindowId, list[Any]]]:
    return [
        (
            (c.board, c.window.kind, c.window.period),
            [(s.rank, s.user, s.score) for s in c.standings],
        )
        for c in records
        if isinstance(c, WindowClosed)
    ]
