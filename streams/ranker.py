"""The adapter between Faust and the engine: one engine per partition of the by-board topic.

Each partition's engine keeps its state in that partition's RocksDB (the one faust's table
store opened and restores from the changelog) through a write-back :class:`RocksStore`. A
batch of events is applied, its records are sent and acknowledged, and only then is the
state flushed: one RocksDB write batch and one changelog record per changed key. Faust acks
the offsets after that, so a crash at any point replays events whose state was not saved
(their records may repeat: at-least-once) and never skips one. Changelog writes name their
partition explicitly, so nothing depends on faust's "current event" context, which a batch
from ``take_events`` does not have.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .engine.config import BoardsConfig
from .engine.core import Engine, Outcome
from .engine.events import ScoreEvent, dumps
from .intake import Rejection, dead_letter_for_source
from .state.rocksdb import RocksStore


class Sink(Protocol):
    """Where the ranker's output goes. Each call returns once the broker acknowledged it.

    Records come a batch at a time because sending them one by one through faust's
    ``Topic.send`` was most of the worker's time (profiled with py-spy).
    """

    async def changes(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Send (board, record) pairs to the push topic, keeping their order per board."""
        ...

    async def changelog(self, partition: int, items: Sequence[tuple[bytes, bytes | None]]) -> None:
        """Send state changes (None: delete) to the changelog's ``partition``."""
        ...

    async def dead_letter(self, value: bytes) -> Awaitable[Any]: ...


BATCH_BUCKETS: tuple[float, ...] = (1, 10, 50, 100, 250, 500, 1000, float("inf"))


@dataclass(slots=True)
class Counts:
    """Outcome counters, read by metrics and tests."""

    by_outcome: dict[str, int] = field(default_factory=dict)
    records: int = 0
    batches: int = 0
    windows_closed: int = 0
    #: cumulative histogram of events per batch: upper bound -> batches of at most that size
    batch_buckets: dict[float, int] = field(default_factory=lambda: dict.fromkeys(BATCH_BUCKETS, 0))
    batch_events: int = 0
    last_event_ts: int | None = None  # greatest event time of the latest batch (lag)

    def add(self, outcome: str) -> None:
        self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + 1

    def observe_batch(self, items: Sequence[Item]) -> None:
        size = len(items)
        self.batch_events += size
        for bound in self.batch_buckets:
            if size <= bound:
                self.batch_buckets[bound] += 1
        self.last_event_ts = max((i.event.ts for i in items), default=self.last_event_ts)


@dataclass(frozen=True, slots=True)
class Item:
    """One event of a batch, with where it came from (for dead letters)."""

    topic: str
    partition: int
    offset: int
    raw: bytes
    event: ScoreEvent


class Ranker:
    def __init__(
        self,
        config: BoardsConfig,
        open_db: Callable[[int], Any],
        clock: Callable[[], int],
        sink: Sink,
    ) -> None:
        """``open_db(partition)`` returns the partition's rocksdict ``Rdict`` (faust's)."""
        self._config = config
        self._open_db = open_db
        self._clock = clock
        self._sink = sink
        self._engines: dict[int, tuple[Engine, RocksStore]] = {}
        self.counts = Counts()

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget engines of partitions this worker no longer owns (their caches go stale)."""
        for partition in partitions:
            self._engines.pop(partition, None)

    def engine_for(self, partition: int) -> Engine:
        """The partition's engine, for read-only queries (the caller checks that this
        worker owns the partition)."""
        return self._engine(partition)[0]

    def _engine(self, partition: int) -> tuple[Engine, RocksStore]:
        found = self._engines.get(partition)
        if found is None:
            store = RocksStore(self._open_db(partition))
            found = self._engines[partition] = (Engine(self._config, store, self._clock), store)
        return found

    async def process(self, items: Sequence[Item]) -> None:
        acks: list[Awaitable[Any]] = []
        records: list[tuple[bytes, bytes]] = []
        touched: set[int] = set()
        sink = self._sink
        for item in items:
            engine, _ = self._engine(item.partition)
            touched.add(item.partition)
            result = engine.apply(item.event)
            if result.outcome is Outcome.FUTURE:
                # The intake applies the same rule first; this only fires when the wall
                # clock went back in between.
                acks.append(await sink.dead_letter(self._future_letter(item)))
                self.counts.add("invalid")
                continue
            self.counts.add(result.outcome.value)
            if result.late:
                self.counts.add("late")
            if result.records:
                key = item.event.board.encode()
                records += [(key, record.to_json().encode()) for record in result.records]
                self.counts.windows_closed += result.closed
        self.counts.records += len(records)
        self.counts.observe_batch(items)
        await sink.changes(records)
        await asyncio.gather(*acks)
        await self.flush(touched)
        self.counts.batches += 1

    async def flush(self, partitions: Iterable[int]) -> None:
        """Persist each partition's pending state: the changelog first (acknowledged),
        then the local RocksDB, so the changelog is never behind the local state."""
        for partition in sorted(partitions):
            engine, store = self._engine(partition)
            engine.sync()  # the rank trees' pending counts, before the state is staged
            changes, commit = store.stage()
            if changes:
                await self._sink.changelog(partition, changes)
            commit()

    @staticmethod
    def _future_letter(item: Item) -> bytes:
        rejection = Rejection("future", "ts is too far ahead of the wall clock")
        record = dead_letter_for_source(
            rejection, item.raw, item.topic, item.partition, item.offset
        )
        return dumps(record).encode()
