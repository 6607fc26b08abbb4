"""The rank trees reach RocksDB and the changelog through the ranker's per-unit flush
(Engine.sync before the store is staged), with the changelog position saved alongside:
after a batch, an engine opened on the local database, and one on a database rebuilt from
the changelog records alone (a cold restore on another worker), give every user's exact
rank as the reference does."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from pathlib import Path

import pytest
from rocksdict import Rdict

from streams.engine import query, ranktree
from streams.engine.config import BoardConfig, BoardsConfig
from streams.engine.core import Engine
from streams.engine.events import ScoreEvent, WindowRef
from streams.runtime.publish import Unit
from streams.runtime.ranker import Item, Ranker
from streams.runtime.state.rocksdb import RocksStore
from streams.runtime.state.tuning import rocksdb_options

from .reference import Reference

NOW = 1_800_000_000_000
ALL = WindowRef("all", None, None, None)


class Publisher:
    """Takes units as the broker would, keeping their changelog records in order."""

    def __init__(self) -> None:
        self.changelog_items: list[tuple[bytes, bytes | None]] = []

    async def publish(self, stage: str, unit: Unit) -> int | None:
        assert all(topic != "dlq" for topic, _, _ in unit.records), "no dead letters expected"
        self.changelog_items += unit.changelog
        return len(self.changelog_items) - 1 if unit.changelog else None

    def position(self, stage: str, partition: int) -> int:
        return 0

    async def assigned(self, stage: str, partitions: Iterable[int]) -> None: ...

    async def revoked(self, stage: str, partitions: Iterable[int]) -> None: ...

    async def stop(self) -> None: ...


async def no_restore(store: RocksStore, partition: int) -> int:
    return 0


def check_ranks(db: Rdict, config: BoardsConfig, ref: Reference) -> None:
    engine = Engine(config, RocksStore(db), lambda: NOW)
    expected = ref.standings(("b", "all", None))
    assert query.window_size(engine, "b", ALL) == len(expected)
    for rank, (user, score) in enumerate(expected, 1):
        found = query.user_rank(engine, "b", ALL, user)
        assert found is not None and (found.rank, found.score) == (rank, score), user


def test_flush_persists_the_rank_trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranktree, "BUCKET_MAX", 4)
    monkeypatch.setattr(ranktree, "FANOUT", 4)
    config = BoardsConfig(defaults=BoardConfig(windows=("all",), top=3))
    db = Rdict(str(tmp_path / "local"), rocksdb_options())
    publisher = Publisher()
    ranker = Ranker(
        config, lambda p: RocksStore(db), lambda: NOW, publisher, ("changes", "dlq"), no_restore
    )
    ref = Reference(config, NOW)
    rng = random.Random(5)
    batches = []
    for batch in range(4):
        items: list[Item] = []
        for n in range(150):
            event = ScoreEvent(
                f"e{batch}-{n}", "b", f"u{rng.randrange(120)}", rng.randint(-5, 20), NOW - n
            )
            ref.apply(event)
            # by-board messages carry runs of events (streams.edge.wire): 1 to 6 per message
            if items and len(items[-1].events) < rng.randint(1, 6):
                items[-1].events.append(event)
            else:
                items.append(Item("t", 0, batch * 1000 + n, [event]))
        batches.append(items)

    async def run() -> None:
        for items in batches:
            await ranker.process(items)

    asyncio.run(run())
    check_ranks(db, config, ref)

    restored = Rdict(str(tmp_path / "restored"), rocksdb_options())
    for key, value in publisher.changelog_items:
        if value is None:
            restored.delete(key)
        else:
            restored[key] = value
    check_ranks(restored, config, ref)
    restored.close()
    db.close()


def test_the_changelog_position_is_saved_with_the_state(tmp_path: Path) -> None:
    """A warm restart reads the changelog only from after the saved position."""
    config = BoardsConfig(defaults=BoardConfig(windows=("all",), top=3))
    db = Rdict(str(tmp_path / "local"), rocksdb_options())
    publisher = Publisher()
    ranker = Ranker(
        config, lambda p: RocksStore(db), lambda: NOW, publisher, ("changes", "dlq"), no_restore
    )
    events = [ScoreEvent(f"e{n}", "b", f"u{n % 7}", n, NOW - n) for n in range(40)]
    items = [Item("t", 0, n, [event]) for n, event in enumerate(events)]
    asyncio.run(ranker.process(items))
    assert RocksStore(db).changelog_offset == len(publisher.changelog_items) - 1
    db.close()
