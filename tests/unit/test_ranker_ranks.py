"""The rank trees reach RocksDB and the changelog through the ranker's per-batch flush
(Engine.sync before the store is staged): after a batch, an engine opened on the local
database, and one on a database rebuilt from the changelog records alone (a cold restore
on another worker), give every user's exact rank as the reference does."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from rocksdict import Rdict

from streams.engine import query, ranktree
from streams.engine.config import BoardConfig, BoardsConfig
from streams.engine.core import Engine
from streams.engine.events import ScoreEvent, WindowRef
from streams.ranker import Item, Ranker
from streams.state.rocksdb import RocksStore, rocksdb_options

from .reference import Reference

NOW = 1_800_000_000_000
ALL = WindowRef("all", None, None, None)


class Sink:
    def __init__(self) -> None:
        self.changelog_items: list[tuple[bytes, bytes | None]] = []

    async def changes(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        pass

    async def changelog(self, partition: int, items: Sequence[tuple[bytes, bytes | None]]) -> None:
        self.changelog_items += items

    async def dead_letter(self, value: bytes) -> Any:
        raise AssertionError("no dead letters expected")


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
    sink = Sink()
    ranker = Ranker(config, lambda partition: db, lambda: NOW, sink)
    ref = Reference(config, NOW)
    rng = random.Random(5)
    for batch in range(4):
        items = []
        for n in range(150):
            event = ScoreEvent(
                f"e{batch}-{n}", "b", f"u{rng.randrange(120)}", rng.randint(-5, 20), NOW - n
            )
            ref.apply(event)
            items.append(Item("t", 0, batch * 1000 + n, b"", event))
        asyncio.run(ranker.process(items))
    check_ranks(db, config, ref)

    restored = Rdict(str(tmp_path / "restored"), rocksdb_options())
    for key, value in sink.changelog_items:
        if value is None:
            restored.delete(key)
        else:
            restored[key] = value
    check_ranks(restored, config, ref)
    restored.close()
    db.close()
