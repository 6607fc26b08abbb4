"""The adapter between Faust and the engine: one engine per partition of the by-board topic.

Each partition's engine keeps its state in that partition's RocksDB through a write-back
:class:`RocksStore`. A batch is handled per input partition (a :class:`~streams.publish.Unit`):
its events are applied, its records and state changes are published together (with
exactly-once: in one Kafka transaction that also commits the input offset), and only then is
the state written to RocksDB, with the changelog position in the same write batch. So the
local database is never ahead of the committed changelog, a crash at any point leaves
either the unit's output and state committed or neither, and replayed input is dropped as a
duplicate by the engine's dedup because its state was committed with its output.

Before a partition's engine is used, its RocksDB is caught up with the changelog
(:mod:`streams.restore`): after a takeover, another worker may have moved it on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .engine.config import BoardsConfig
from .engine.core import Engine, Outcome
from .engine.events import ScoreEvent, dumps
from .intake import Rejection, dead_letter_for_source
from .publish import Deliveries, NotOwned, Publisher, TrustDeliveries, Unit, pending
from .state.rocksdb import RocksStore
from .state.tuning import rocksdb_memory
from .wire import encode_event

STAGE = "rank"


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

    def add(self, outcome: str, n: int = 1) -> None:
        self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + n

    def observe_batch(self, items: Sequence[Item]) -> None:
        size = sum(len(item.events) for item in items)
        self.batch_events += size
        for bound in self.batch_buckets:
            if size <= bound:
                self.batch_buckets[bound] += 1
        self.last_event_ts = max(
            (e.ts for item in items for e in item.events), default=self.last_event_ts
        )


@dataclass(frozen=True, slots=True)
class Item:
    """One by-board message of a batch: its events (one board's run, streams.wire) and
    where it came from (for offsets and dead letters)."""

    topic: str
    partition: int
    offset: int
    events: list[ScoreEvent]


def _offset(item: Item) -> int:
    return item.offset


class Ranker:
    def __init__(
        self,
        config: BoardsConfig,
        open_store: Callable[[int], RocksStore],
        clock: Callable[[], int],
        publisher: Publisher,
        topics: tuple[str, str],
        restore: Callable[[RocksStore, int], Awaitable[int]],
        tree_cache_nodes: int = 4096,
        deliveries: Deliveries | None = None,
    ) -> None:
        """``open_store(partition)`` opens the partition's RocksDB; ``topics`` is (push
        topic, dead-letter topic); ``restore(store, partition)`` catches a store up with
        the changelog; ``deliveries`` (the consumer) says which events may be committed."""
        self._deliveries = deliveries or TrustDeliveries()
        self._config = config
        self._open_store = open_store
        self._clock = clock
        self._publisher = publisher
        self._changes_topic, self._dlq_topic = topics
        self._restore = restore
        self._tree_cache_nodes = tree_cache_nodes
        self._engines: dict[int, tuple[Engine, RocksStore]] = {}
        self._ready: dict[int, asyncio.Task[tuple[Engine, RocksStore]]] = {}
        self._assigned = False
        self.counts = Counts()

    # -- ownership ---------------------------------------------------------------------

    def assign(self, partitions: Iterable[int]) -> None:
        """Take the worker's whole new assignment: close what is no longer ours and start
        restoring what is new in the background (a partition's first batch, or query,
        waits for its restore).

        Engines of partitions we keep stay as they are. faust's (eager) rebalance revokes
        every partition and then assigns the new set; nobody else can have written to a
        partition that is ours both before and after, so its caches are still right, and
        an event batch that was in flight during the rebalance can still be committed."""
        owned = set(partitions)
        self._assigned = True
        self.release(p for p in list(self._engines) + list(self._ready) if p not in owned)
        for partition in owned:
            if partition not in self._engines and partition not in self._ready:
                self._ready[partition] = asyncio.ensure_future(self._open(partition))

    def release(self, partitions: Iterable[int]) -> None:
        """Close the stores of partitions this worker lost (another worker writes them now,
        so the caches and the local database go stale; a later restore catches up)."""
        for partition in set(partitions):
            task = self._ready.pop(partition, None)
            if task is not None:
                task.cancel()
            found = self._engines.pop(partition, None)
            if found is not None:
                found[1].close()

    def close(self) -> None:
        self.release(list(self._engines) + list(self._ready))

    def ready(self) -> bool:
        """Every partition assigned so far is restored (the API answers only then)."""
        return self._assigned and not self._ready

    def rocksdb_memory(self) -> dict[str, int]:
        """RocksDB's RAM over the partitions this worker holds open (for /metrics)."""
        return rocksdb_memory(store.db for _, store in self._engines.values())

    def engine_for(self, partition: int) -> Engine | None:
        """The partition's engine for read-only queries, once restored (the caller checks
        that this worker owns the partition)."""
        found = self._engines.get(partition)
        return None if found is None else found[0]

    async def engine(self, partition: int) -> tuple[Engine, RocksStore]:
        """The partition's engine and store, restored from the changelog first."""
        found = self._engines.get(partition)
        if found is not None:
            return found
        if partition not in self._ready:
            self._ready[partition] = asyncio.ensure_future(self._open(partition))
        return await asyncio.shield(self._ready[partition])

    async def _open(self, partition: int) -> tuple[Engine, RocksStore]:
        store = self._open_store(partition)
        try:
            await self._restore(store, partition)
        except BaseException:
            store.close()
            raise
        found = self._engines[partition] = (
            Engine(self._config, store, self._clock, self._tree_cache_nodes),
            store,
        )
        self._ready.pop(partition, None)
        return found

    # -- processing --------------------------------------------------------------------

    async def process(self, items: Sequence[Item]) -> None:
        by_partition: dict[int, list[Item]] = {}
        for item in items:
            by_partition.setdefault(item.partition, []).append(item)
        # Partitions are independent (own engine, store and transactional producer), so
        # their units overlap: each mostly waits for its transaction's round trips.
        await asyncio.gather(*(self._process_partition(p, s) for p, s in by_partition.items()))
        self.counts.observe_batch(items)
        self.counts.batches += 1

    async def _process_partition(self, partition: int, items: list[Item]) -> None:
        position = self._publisher.position(STAGE, partition)
        items = pending(items, _offset, (items[0].topic, partition), position, self._deliveries)
        if not items:
            return
        engine, store = await self.engine(partition)
        unit = Unit(items[0].topic, partition, items[-1].offset + 1)
        records = unit.records
        counts: dict[str, int] = {}
        closed = 0
        topic = self._changes_topic
        for item in items:
            for event in item.events:
                result = engine.apply(event)
                outcome = result.outcome
                if outcome is Outcome.FUTURE:
                    # The intake applies the same rule first; this only fires when the wall
                    # clock went back in between.
                    records.append((self._dlq_topic, b"", self._future_letter(item, event)))
                    counts["invalid"] = counts.get("invalid", 0) + 1
                    continue
                counts[outcome.value] = counts.get(outcome.value, 0) + 1
                if result.late:
                    counts["late"] = counts.get("late", 0) + 1
                if result.records:
                    key = event.board.encode()
                    records += [(topic, key, r.to_json().encode()) for r in result.records]
                    closed += result.closed
        engine.sync()  # the rank trees' pending counts, before the state is staged
        unit.changelog, commit = store.stage()
        try:
            offset = await self._publisher.publish(STAGE, unit)
        except NotOwned:
            # Another worker owns the partition now and processes these events itself.
            store.discard()
            self.release([partition])
            return
        commit(offset)
        for outcome_name, n in counts.items():
            self.counts.add(outcome_name, n)
        self.counts.windows_closed += closed
        self.counts.records += sum(1 for topic, _, _ in records if topic == self._changes_topic)

    @staticmethod
    def _future_letter(item: Item, event: ScoreEvent) -> bytes:
        """``raw`` is the event alone in the internal form; ``source`` its by-board message."""
        rejection = Rejection("future", "ts is too far ahead of the wall clock")
        record = dead_letter_for_source(
            rejection, encode_event(event), item.topic, item.partition, item.offset
        )
        return dumps(record).encode()
