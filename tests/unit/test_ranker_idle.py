"""The rank stage's side of contract v2: ``too_old`` dead letters with their by-board source,
and idle close through the same exactly-once unit as events (records, state and the input
position together; nothing lost or repeated across a crash or a restart)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path

import pytest
from rocksdict import Rdict

from schemas.timefmt import parse_rfc3339_ms
from streams.engine.config import BoardConfig, BoardsConfig
from streams.engine.events import ScoreEvent
from streams.runtime.publish import Unit
from streams.runtime.ranker import Item, Ranker
from streams.runtime.state.rocksdb import RocksStore
from streams.runtime.state.tuning import rocksdb_options

T0 = parse_rfc3339_ms("2026-11-27T10:00:00Z")
DAILY_CLOSE = parse_rfc3339_ms("2026-11-28T00:05:00Z")  # end of the 27th + 300 s grace
DAY = 86_400_000
CONFIG = BoardsConfig(defaults=BoardConfig(windows=("daily", "all"), grace_seconds=300))


class Publisher:
    """The broker as the ranker sees it: units in commit order, positions like the
    transactional publisher's (the last committed next_offset); ``fail`` makes the next
    publish raise (a crash before the commit)."""

    def __init__(self) -> None:
        self.units: list[Unit] = []
        self.positions: dict[int, int] = {}
        self.fail = False

    async def publish(self, stage: str, unit: Unit) -> int | None:
        if self.fail:
            self.fail = False
            raise RuntimeError("crashed before the commit")
        self.units.append(unit)
        if unit.next_offset is not None:  # an idle unit consumed no input
            self.positions[unit.partition] = unit.next_offset
        return None

    def position(self, stage: str, partition: int) -> int:
        return self.positions.get(partition, 0)

    async def assigned(self, stage: str, partitions: Iterable[int]) -> None: ...

    async def revoked(self, stage: str, partitions: Iterable[int]) -> None: ...

    async def stop(self) -> None: ...

    def records(self, topic: str = "changes") -> list[dict[str, object]]:
        return [json.loads(v) for u in self.units for t, _k, v in u.records if t == topic]

    def closed(self) -> list[tuple[object, object]]:
        return [(r["board"], r["period"]) for r in self.records() if r["type"] == "window_closed"]


async def no_restore(store: RocksStore, partition: int) -> int:
    return 0


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Iterable[Rdict]:
    handle = Rdict(str(tmp_path / "p0"), rocksdb_options())
    yield handle
    handle.close()


def ranker(db: Rdict, publisher: Publisher, clock: Clock) -> Ranker:
    return Ranker(
        CONFIG, lambda p: RocksStore(db), clock, publisher, ("changes", "dlq"), no_restore
    )


def ev(eid: str, ts: int, board: str = "b", user: str = "ada", score: int = 1) -> ScoreEvent:
    return ScoreEvent(eid, board, user, score, ts)


def test_too_old_events_are_dead_lettered_with_their_by_board_source(db: Rdict) -> None:
    publisher = Publisher()
    r = ranker(db, publisher, Clock(T0 + 10 * DAY))
    items = [
        Item("by-board", 0, 10, [ev("new", T0 + 9 * DAY)]),
        Item("by-board", 0, 11, [ev("old", T0), ev("ok", T0 + 2 * DAY)]),
    ]
    asyncio.run(r.process(items))
    letters = publisher.records("dlq")
    assert len(letters) == 1
    letter = letters[0]
    assert letter["reason"] == "too_old" and "dedup_seconds (691200s)" in str(letter["detail"])
    assert letter["source"] == {"topic": "by-board", "partition": 0, "offset": 11}
    raw = json.loads(str(letter["raw"]))  # a score event of contract section 1, ts in ms
    assert raw == {"event_id": "old", "board": "b", "user": "ada", "score": 1, "ts": T0}
    assert r.counts.by_outcome == {"applied": 2, "late": 1, "too_old": 1}
    assert publisher.units[-1].next_offset == 12


def run_idle(r: Ranker, now: int, caught_up: bool = True) -> int:
    return asyncio.run(r.close_idle(now, lambda partition: caught_up))


def test_idle_close_at_end_plus_grace_through_the_unit(db: Rdict) -> None:
    publisher = Publisher()
    clock = Clock(T0)
    r = ranker(db, publisher, clock)
    asyncio.run(r.process([Item("by-board", 0, 5, [ev("1", T0, score=3)])]))
    assert run_idle(r, DAILY_CLOSE - 1) == 0  # idle for long enough, but not due yet...
    sent = len(publisher.units)
    assert run_idle(r, DAILY_CLOSE) == 1
    unit = publisher.units[-1]
    assert len(publisher.units) == sent + 1
    # no input consumed, so no input offset; the state (watermark, windows) in the unit
    assert (unit.partition, unit.next_offset) == (0, None)
    assert publisher.positions[0] == 6
    assert unit.changelog and publisher.closed() == [("b", "2026-11-27")]
    standings = publisher.records()[-1]["standings"]
    assert standings == [{"rank": 1, "user": "ada", "score": 3}]
    assert r.counts.windows_closed == 1
    # nothing due, and the watermark moved less than idle_close_seconds ago: no unit
    assert run_idle(r, DAILY_CLOSE + 1000) == 0 and len(publisher.units) == sent + 1


def test_not_caught_up_or_not_idle_long_enough_closes_nothing(db: Rdict) -> None:
    publisher = Publisher()
    clock = Clock(DAILY_CLOSE - 30_000)  # the event arrives 30 s before the close is due
    r = ranker(db, publisher, clock)
    asyncio.run(r.process([Item("by-board", 0, 5, [ev("1", T0)])]))
    sent = len(publisher.units)
    assert run_idle(r, DAILY_CLOSE + DAY, caught_up=False) == 0
    assert run_idle(r, DAILY_CLOSE) == 0  # 30 s of a 60 s idle_close_seconds
    assert len(publisher.units) == sent
    assert run_idle(r, DAILY_CLOSE + 30_000) == 1


def test_a_busy_board_is_left_alone_while_an_idle_one_closes(db: Rdict) -> None:
    publisher = Publisher()
    clock = Clock(T0)
    r = ranker(db, publisher, clock)
    asyncio.run(r.process([Item("by-board", 0, 1, [ev("1", T0, board="idle")])]))
    clock.now = DAILY_CLOSE - 1000
    asyncio.run(r.process([Item("by-board", 0, 2, [ev("2", T0, board="busy")])]))
    assert run_idle(r, DAILY_CLOSE) == 1
    assert publisher.closed() == [("idle", "2026-11-27")]


def test_a_restarted_process_closes_an_idle_board_without_a_new_event(db: Rdict) -> None:
    """An idle unit commits no input offset, so a process that has committed nothing yet
    closes too; its idle wait starts when it first sees the board (RAM, after a restart)."""
    publisher = Publisher()
    first = ranker(db, publisher, Clock(T0))
    asyncio.run(first.process([Item("by-board", 0, 5, [ev("1", T0)])]))
    first.close()
    publisher.positions.clear()  # a new process: the publisher's positions start at 0
    restarted = ranker(db, publisher, Clock(T0))
    idle_ms = CONFIG.defaults.idle_close_seconds * 1000

    async def restart_and_check() -> tuple[int, int]:
        restarted.assign([0])
        await restarted.engine(0)
        at_once = await restarted.close_idle(DAILY_CLOSE, lambda partition: True)
        later = await restarted.close_idle(DAILY_CLOSE + idle_ms, lambda partition: True)
        return at_once, later

    assert asyncio.run(restart_and_check()) == (0, 1)
    assert publisher.closed() == [("b", "2026-11-27")]


def test_no_double_close_after_a_restart(db: Rdict) -> None:
    publisher = Publisher()
    first = ranker(db, publisher, Clock(T0))
    asyncio.run(first.process([Item("by-board", 0, 5, [ev("1", T0)])]))
    assert run_idle(first, DAILY_CLOSE) == 1
    first.close()
    publisher.positions.clear()
    restarted = ranker(db, publisher, Clock(DAILY_CLOSE))
    asyncio.run(restarted.process([Item("by-board", 0, 6, [ev("2", T0, board="other")])]))
    assert run_idle(restarted, DAILY_CLOSE + 2 * DAY) == 1  # only "other"'s 27th
    assert publisher.closed() == [("b", "2026-11-27"), ("other", "2026-11-27")]


def test_a_crash_before_the_commit_loses_no_close(db: Rdict) -> None:
    publisher = Publisher()
    first = ranker(db, publisher, Clock(T0))
    asyncio.run(first.process([Item("by-board", 0, 5, [ev("1", T0)])]))
    publisher.fail = True
    with pytest.raises(RuntimeError, match="crashed"):
        run_idle(first, DAILY_CLOSE)
    assert publisher.closed() == []
    # The worker dies: its unflushed state goes with it. Its successor closes the window.
    publisher.positions.clear()
    restarted = ranker(db, publisher, Clock(T0))
    asyncio.run(restarted.process([Item("by-board", 0, 5, [ev("1", T0)])]))  # the redelivery
    assert restarted.counts.by_outcome == {"duplicate": 1}
    assert run_idle(restarted, DAILY_CLOSE) == 1
    assert run_idle(restarted, DAILY_CLOSE + DAY) == 0
    assert publisher.closed() == [("b", "2026-11-27")]
