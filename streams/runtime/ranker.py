"""The adapter between Faust and the engine: one engine per partition of the by-board topic.

Each partition's engine keeps its state in that partition's RocksDB through a write-back
:class:`RocksStore`. A batch is handled per input partition (a
:class:`~streams.runtime.publish.Unit`):
its events are applied, its records and state changes are published together (with
exactly-once: in one Kafka transaction that also commits the input offset), and only then is
the state written to RocksDB, with the changelog position in the same write batch. So the
local database is never ahead of the committed changelog, a crash at any point leaves
either the unit's output and state committed or neither, and replayed input is dropped as a
duplicate by the engine's dedup because its state was committed with its output.

Before a partition's engine is used, its RocksDB is caught up with the changelog
(:mod:`streams.runtime.restore`): after a takeover, another worker may have moved it on.

Idle close (contract section 2) goes through the same unit: :meth:`Ranker.close_idle`,
called on a timer, moves idle boards' watermarks to the wall clock in a unit without input
events, whose records (``window_closed``) and state changes (watermark, windows, dedup
clean-up) commit together, with the input position unchanged. A crash before the commit
loses nothing (the state did not move either, so the next check closes the same windows);
after it, the restored state says the windows are closed, so nothing closes twice.

Design records: docs/design/exactly-once.md (the unit), docs/design/dedup-horizon.md (idle
close, ``too_old``); tests: ``tests/unit/test_ranker_ranks.py``,
``tests/unit/test_ranker_idle.py``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from streams.edge.refusals import refusal
from streams.edge.validation import Rejection, dead_letter_for_source
from streams.engine.config import BoardsConfig
from streams.engine.core import Engine, Outcome
from streams.engine.events import ScoreEvent, dumps
from streams.runtime.publish import Deliveries, NotOwned, Publisher, TrustDeliveries, Unit, pending
from streams.runtime.state.rocksdb import RocksStore
from streams.runtime.state.tuning import rocksdb_memory

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
    """One by-board message of a batch: its events (one board's run, streams.edge.wire) and
    where it came from (for offsets and dead letters)."""

    topic: str
    partition: int
    offset: int
    events: list[ScoreEvent]


def _offset(item: Item) -> int:
    return item.offset


@dataclass(slots=True)
class _Built:
    """What one unit did to the engine, for the counters once it is committed."""

    unit: Unit
    has_input: bool  # input events: the unit is sent (its offset committed) whatever they did
    outcomes: dict[str, int] = field(default_factory=dict)
    closed: int = 0


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
        #: one unit at a time per partition: event batches and idle closes share an engine
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        #: per board, the wall-clock time of its last event here / its last idle advance
        #: (RAM only, bounded by boards: after a restart the idle wait starts again)
        self._last_event: dict[str, int] = {}
        self._advanced: dict[str, int] = {}

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

    def restored(self) -> list[int]:
        """The partitions whose engine is restored and in use."""
        return sorted(self._engines)

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
        unit = Unit(items[0].topic, partition, items[-1].offset + 1)
        await self._run_unit(partition, lambda engine: self._apply_items(engine, unit, items))

    def _apply_items(self, engine: Engine, unit: Unit, items: list[Item]) -> _Built:
        built = _Built(unit, has_input=True)
        records, outcomes = unit.records, built.outcomes
        topic = self._changes_topic
        now = self._clock()
        last_event = self._last_event
        for item in items:
            for event in item.events:
                last_event[event.board] = now
                result = engine.apply(event)
                outcome = result.outcome
                if outcome is Outcome.FUTURE or outcome is Outcome.TOO_OLD:
                    # ``future``: the intake applies the same rule first; this only fires
                    # when the wall clock went back in between. ``too_old`` is decided here.
                    refused = refusal(outcome, self._config, event.board)
                    assert refused is not None
                    records.append((self._dlq_topic, b"", self._letter(item, event, refused)))
                    name = "invalid" if outcome is Outcome.FUTURE else outcome.value
                    outcomes[name] = outcomes.get(name, 0) + 1
                    continue
                outcomes[outcome.value] = outcomes.get(outcome.value, 0) + 1
                if result.late:
                    outcomes["late"] = outcomes.get("late", 0) + 1
                if result.records:
                    key = event.board.encode()
                    records += [(topic, key, r.to_json().encode()) for r in result.records]
                    built.closed += result.closed
        return built

    async def close_idle(self, now_ms: int, caught_up: Callable[[int], bool]) -> int:
        """Idle close (contract section 2) at wall-clock time ``now_ms``; returns the
        windows it closed. Call it on a timer.

        A partition takes part when its engine is restored and ``caught_up(partition)``
        says the job has read and processed everything that feeds it (the caller knows its
        consumers; it is asked while no unit of the partition is in flight). The idle unit
        consumes no input, so it commits no input offset (``Unit.next_offset`` None).
        In it, a board is idle when ``idle_close_seconds`` (not 0) of wall-clock time went
        by since its last event here (or since this process first saw the board); an idle
        board's watermark moves to ``now_ms`` when that closes a window, and otherwise at
        most once per ``idle_close_seconds``, so an idle job does not write a transaction
        per board and tick while its watermarks still follow the wall clock."""
        closed_before = self.counts.windows_closed
        for partition in sorted(self._engines):

            def build(engine: Engine, partition: int = partition) -> _Built | None:
                if not caught_up(partition):
                    return None
                return self._idle_unit(engine, Unit("", partition, None), now_ms)

            await self._run_unit(partition, build, restored_only=True)
        return self.counts.windows_closed - closed_before

    def _idle_unit(self, engine: Engine, unit: Unit, now_ms: int) -> _Built:
        built = _Built(unit, has_input=False)
        topic = self._changes_topic
        for board in engine.boards():
            idle_ms = self._config.for_board(board).idle_close_seconds * 1000
            if not idle_ms:
                continue
            last = self._last_event.setdefault(board, now_ms)
            if now_ms - last < idle_ms:
                continue
            if now_ms - self._advanced.get(board, last) < idle_ms and not engine.closes_by(
                board, now_ms
            ):
                continue
            self._advanced[board] = now_ms
            closed = engine.advance_watermark(board, now_ms)
            key = board.encode()
            unit.records += [(topic, key, r.to_json().encode()) for r in closed]
            built.closed += len(closed)
        return built

    async def _run_unit(
        self,
        partition: int,
        build: Callable[[Engine], _Built | None],
        restored_only: bool = False,
    ) -> None:
        """The one exactly-once unit of work, for event batches and idle closes alike:
        ``build`` changes the engine and fills its unit's records; then the state changes
        are staged, the unit is published (records, changelog and input offset in one
        transaction) and only then is the state written to RocksDB. ``build`` may return
        None (nothing to do); a unit that changed nothing and carries no input is not
        sent."""
        async with self._locks[partition]:
            if restored_only and partition not in self._engines:
                return
            engine, store = await self.engine(partition)
            built = build(engine)
            if built is None:
                return
            unit = built.unit
            if not built.has_input and not unit.records and not store.pending:
                return  # an idle check that moved nothing
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
        for outcome_name, n in built.outcomes.items():
            self.counts.add(outcome_name, n)
        self.counts.windows_closed += built.closed
        self.counts.records += sum(
            1 for topic, _, _ in unit.records if topic == self._changes_topic
        )

    @staticmethod
    def _letter(item: Item, event: ScoreEvent, rejection: Rejection) -> bytes:
        """``raw`` is the validated event as a score event of contract section 1 (``ts`` in
        epoch milliseconds; the producer's own bytes stayed with the intake), ``source``
        its by-board message."""
        body = {
            "event_id": event.event_id,
            "board": event.board,
            "user": event.user,
            "score": event.score,
            "ts": event.ts,
        }
        record = dead_letter_for_source(
            rejection, dumps(body).encode(), item.topic, item.partition, item.offset
        )
        return dumps(record).encode()
