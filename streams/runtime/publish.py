"""How the worker's output reaches Kafka: one :class:`Unit` per input partition and batch.

A unit is everything one batch of one input partition produced: output records (push
topic, by-board topic, dead letters), the state changes for the changelog and the input
position after the batch. :class:`TransactionalPublisher` (exactly-once, the default) sends
a unit and commits its input offset in ONE Kafka transaction, on a producer whose
transactional id names the input partition (``<app_id>-<stage>-<partition>``): a worker that
takes a partition over fences the previous owner's producer and aborts its open
transaction, so a ``read_committed`` consumer sees a unit's records once or not at all.
:class:`PlainPublisher` (at-least-once) sends the same records on faust's producer and
leaves the offsets to faust.

The transactions are ours, not faust's exactly-once mode, which cannot carry a
transactional changelog; the unit, its invariants and their tests are in
docs/design/exactly-once.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]
from aiokafka.producer.message_accumulator import BatchBuilder  # type: ignore[import-untyped]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Upper bound of one atomic changelog flush; the changelog topic accepts batches this big.
CHANGELOG_BATCH_BYTES = 16 * 1024 * 1024
#: Record batches of the other outputs: under the broker's default max.message.bytes (1 MiB).
#: Large, because aiokafka keeps one request in flight per partition: its default (16 KiB)
#: would send a unit's records to one partition in many sequential round trips.
RECORD_BATCH_BYTES = 1000 * 1024


def _new_batch(producer: Any, size: int, transactional: bool) -> Any:
    return BatchBuilder(
        size, producer._message_accumulator._compression_type, is_transactional=transactional
    )


async def _send(producer: Any, batch: Any, topic: str, partition: int) -> Any:
    """Hand a complete batch to the producer. Closed first: aiokafka lets an open batch
    linger ``linger_ms`` for records that will never come (ours are built whole)."""
    batch.close()
    return await producer.send_batch(batch, topic, partition=partition)


def unseen(items: Sequence[T], offset: Callable[[T], int], done: int) -> list[T]:
    """The items of one input partition still to process, in offset order.

    faust delivers events again after it seeks back to the committed offset on a rebalance,
    and a batch can hold the end of one pass and the start of the next (events its take
    buffer held over the rebalance, then the same offsets again). The latest pass is the
    one that carries on, so an item is kept only when no later item has an offset at or
    below its own: older copies, and older events the new pass will deliver again, are
    dropped, and the batch's last item (whose offset + 1 becomes the committed position)
    always stays. Below ``done`` (what this worker committed) everything is finished.
    """
    kept: list[T] = []
    floor = None
    for item in reversed(items):
        at = offset(item)
        if at < done:
            break  # so is everything delivered before it in an older pass
        if floor is None or at < floor:
            kept.append(item)
            floor = at
    kept.reverse()
    return kept


class Deliveries(Protocol):
    """What the consumer knows about an input partition's deliveries (streams.runtime.delivery)."""

    def delivered_done(self, topic: str, partition: int, position: int) -> int: ...

    def follow_on(self, topic: str, partition: int, done: int, offsets: Sequence[int]) -> int: ...


class TrustDeliveries:
    """Every delivered event counts: for tests without Kafka, and for at-least-once, where
    faust commits by acked offsets and a gap is its business."""

    def delivered_done(self, topic: str, partition: int, position: int) -> int:
        return position

    def follow_on(self, topic: str, partition: int, done: int, offsets: Sequence[int]) -> int:
        return len(offsets)


def pending(
    items: Sequence[T],
    offset: Callable[[T], int],
    source: tuple[str, int],
    position: int,
    deliveries: Deliveries,
) -> list[T]:
    """The items of one input partition (``source``: topic, partition) to process and
    commit now: :func:`unseen` ones, up to the first record the consumer fetched but never
    delivered (the consumer fetches the rest again). ``position`` is the stage's own
    committed position (:meth:`Publisher.position`)."""
    topic, partition = source
    done = deliveries.delivered_done(topic, partition, position)
    kept = unseen(items, offset, done)
    return kept[: deliveries.follow_on(topic, partition, done, [offset(item) for item in kept])]


class NotOwned(Exception):
    """The input partition was revoked while its unit was in flight; the new owner
    processes those events, so the unit is dropped (and its state changes discarded)."""


@dataclass(slots=True)
class Unit:
    """One input partition's share of a batch, sent (and with transactions committed) as one."""

    topic: str  # the input topic
    partition: int
    #: the input position after this unit: what gets committed; None for a unit that
    #: consumed no input (an idle close), which commits no offset
    next_offset: int | None
    records: list[tuple[str, bytes, bytes]] = field(default_factory=list)  # topic, key, value
    changelog: list[tuple[bytes, bytes | None]] = field(default_factory=list)  # None: delete


class Publisher(Protocol):
    async def publish(self, stage: str, unit: Unit) -> int | None:
        """Send ``unit``; return the changelog offset of its last state change (None when it
        had none) once the broker acknowledged (and, with transactions, committed) it all.
        Raises :class:`NotOwned` when the partition went to another worker."""
        ...

    def position(self, stage: str, partition: int) -> int:
        """The input offset this worker's own commits reached: events below it are done
        (faust delivers some again after seeking back on a rebalance)."""
        ...

    async def assigned(self, stage: str, partitions: Iterable[int]) -> None:
        """Take the stage's whole new assignment of input partitions."""
        ...

    async def revoked(self, stage: str, partitions: Iterable[int]) -> None:
        """A rebalance began: wait for the unit in flight, hold new ones until assigned."""
        ...

    async def stop(self) -> None: ...


class Outputs:
    """Partitions and batches records as ``Topic.send`` would (murmur2 of the key; an
    empty key, used for dead letters, spreads records round the partitions), so each board's
    records keep their order, and creates output topics before their first record."""

    def __init__(
        self, changelog_topic: str, declare: Callable[[str], Awaitable[None]] | None = None
    ) -> None:
        self.changelog_topic = changelog_topic
        self._partitioner = DefaultPartitioner()
        self._declare = declare

    async def send(self, producer: Any, unit: Unit, transactional: bool) -> int | None:
        """Send ``unit`` and wait for the broker's acknowledgement: see :meth:`enqueue`."""
        return await (await self.enqueue(producer, unit, transactional))

    async def enqueue(
        self, producer: Any, unit: Unit, transactional: bool
    ) -> asyncio.Future[int | None]:
        """Hand ``unit``'s records to ``producer``; the result resolves to the changelog
        offset of its last state change (None when it has none) once the broker has them
        all, so a caller can send its offsets to the transaction meanwhile."""
        grouped: dict[tuple[str, int], list[tuple[bytes | None, bytes]]] = defaultdict(list)
        known: dict[str, list[int]] = {}
        # A unit's records share few keys (its boards): murmur2, in pure Python, runs once
        # per key and topic rather than once per record.
        keyed: dict[tuple[str, bytes], int] = {}
        for n, (topic, key, value) in enumerate(unit.records):
            partitions = known.get(topic)
            if partitions is None:
                if self._declare is not None:
                    await self._declare(topic)
                partitions = known[topic] = sorted(await producer.partitions_for(topic))
            if key:
                partition = keyed.get((topic, key))
                if partition is None:
                    partition = self._partitioner(key, partitions, partitions)
                    keyed[topic, key] = partition
                grouped[topic, partition].append((key, value))
            else:
                grouped[topic, partitions[n % len(partitions)]].append((None, value))
        sent: list[asyncio.Future[Any]] = []
        for (topic, partition), items in grouped.items():
            batch = _new_batch(producer, RECORD_BATCH_BYTES, transactional)
            for record_key, record in items:
                if batch.append(key=record_key, value=record, timestamp=None) is None:  # full
                    sent.append(await _send(producer, batch, topic, partition))
                    batch = _new_batch(producer, RECORD_BATCH_BYTES, transactional)
                    if batch.append(key=record_key, value=record, timestamp=None) is None:
                        raise ValueError(f"a record of {len(record)} bytes exceeds a batch")
            sent.append(await _send(producer, batch, topic, partition))
        if not unit.changelog:
            return asyncio.ensure_future(_acked(sent, 0))
        changelog, count = await self._send_changelog(producer, unit, transactional)
        return asyncio.ensure_future(_acked([*sent, *changelog], count))

    async def _send_changelog(
        self, producer: Any, unit: Unit, transactional: bool
    ) -> tuple[list[asyncio.Future[Any]], int]:
        """One record batch per unit: Kafka appends a batch atomically, so even without
        transactions a worker killed mid-flush leaves all of a unit's state in the changelog
        or none of it. (A prefix would be wrong: dedup markers without their score updates
        lose scores.) The changelog partition is the input partition (co-partitioned).
        Returns the batches' futures and the last one's record count."""
        batches = [_new_batch(producer, CHANGELOG_BATCH_BYTES, transactional)]
        for key, value in unit.changelog:
            if batches[-1].append(key=key, value=value, timestamp=None) is None:
                batches.append(_new_batch(producer, CHANGELOG_BATCH_BYTES, transactional))
                batches[-1].append(key=key, value=value, timestamp=None)
        if len(batches) > 1:
            # Only a retention drop of a very large window gets here. Its tombstones are
            # idempotent; with transactions the batches still commit together.
            log.warning(
                "changelog flush of %d keys takes %d batches", len(unit.changelog), len(batches)
            )
        topic, partition = self.changelog_topic, unit.partition
        futures = [await _send(producer, b, topic, partition) for b in batches]
        return futures, batches[-1].record_count()


async def _acked(sent: list[asyncio.Future[Any]], count: int) -> int | None:
    """Wait for ``sent``; the offset of the last record of the last batch, which holds
    ``count`` records (0: no changelog batch, None)."""
    results = await asyncio.gather(*sent)
    return int(results[-1].offset) + count - 1 if count else None


def _forget(acked: asyncio.Future[Any]) -> None:
    """Drop a send's outcome that nobody will wait for, without asyncio logging it."""
    if acked.done():
        if not acked.cancelled():
            acked.exception()
    else:
        acked.cancel()


class PlainPublisher:
    """At-least-once: faust's own producer; faust commits input offsets after the ack."""

    def __init__(self, outputs: Outputs, producer: Callable[[], Any]) -> None:
        self._outputs = outputs
        self._producer = producer

    async def publish(self, stage: str, unit: Unit) -> int | None:
        return await self._outputs.send(self._producer(), unit, transactional=False)

    def position(self, stage: str, partition: int) -> int:
        return 0  # faust tracks offsets; replays are what at-least-once allows

    async def assigned(self, stage: str, partitions: Iterable[int]) -> None:
        return None

    async def revoked(self, stage: str, partitions: Iterable[int]) -> None:
        return None

    async def stop(self) -> None:
        return None


class TransactionalPublisher:
    """Exactly-once: per input partition a transactional producer; see the module doc."""

    def __init__(
        self,
        outputs: Outputs,
        *,
        app_id: str,
        linger_ms: int,
        transaction_timeout_ms: int,
        client_options: Mapping[str, Any],
        group_id: str | None = None,
    ) -> None:
        """``client_options``: bootstrap servers and security, as for every aiokafka client
        (:func:`streams.runtime.kafka_clients.kafka_options`); ``group_id``: the consumer
        group whose offsets the transactions commit (default: ``app_id``)."""
        self._outputs = outputs
        self._client_options = dict(client_options)
        self._app_id = app_id
        self._group_id = group_id or app_id
        self._linger_ms = linger_ms
        self._timeout_ms = transaction_timeout_ms
        self._producers: dict[tuple[str, int], AIOKafkaProducer] = {}
        self._owned: set[tuple[str, int]] = set()
        self._positions: dict[tuple[str, int], int] = {}
        # Per input partition a lock, so a rebalance waits for the unit in flight (units
        # of different partitions, and of the two agents, run side by side); per stage
        # whether the assignment is settled.
        self._locks: defaultdict[tuple[str, int], asyncio.Lock] = defaultdict(asyncio.Lock)
        self._settled: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def transactional_id(self, stage: str, partition: int) -> str:
        return f"{self._app_id}-{stage}-{partition}"

    async def _producer(self, stage: str, partition: int) -> AIOKafkaProducer:
        producer = self._producers.get((stage, partition))
        if producer is None:
            producer = AIOKafkaProducer(
                **self._client_options,
                transactional_id=self.transactional_id(stage, partition),
                transaction_timeout_ms=self._timeout_ms,
                linger_ms=self._linger_ms,
                acks="all",
                # A transaction begun right after a commit meets CONCURRENT_TRANSACTIONS
                # until the commit markers are written (KAFKA-5477); the default 100 ms
                # backoff would cap a partition at a few transactions per second.
                retry_backoff_ms=10,
            )
            # start() initialises the transactional id: it aborts a transaction a previous
            # owner left open and fences that owner's producer (its commits now fail).
            await producer.start()
            self._producers[stage, partition] = producer
        return producer

    def position(self, stage: str, partition: int) -> int:
        return self._positions.get((stage, partition), 0)

    async def publish(self, stage: str, unit: Unit) -> int | None:
        # During a rebalance, wait to learn whether the partition stays ours: a unit that
        # was in flight then is committed if it does (faust carries on after it) and
        # dropped if not (the new owner starts at the committed offset).
        await self._settled[stage].wait()
        key = (stage, unit.partition)
        async with self._locks[key]:
            if key not in self._owned:
                # Initialising its producer now would fence the new owner's.
                raise NotOwned(f"{stage} partition {unit.partition}")
            producer = await self._producer(stage, unit.partition)
            await producer.begin_transaction()
            acked: asyncio.Future[int | None] | None = None
            try:
                acked = await self._outputs.enqueue(producer, unit, transactional=True)
                # The offsets go to the transaction while the records are in flight: both
                # only have to be in before the commit.
                if unit.next_offset is not None:
                    offsets = {TopicPartition(unit.topic, unit.partition): unit.next_offset}
                    await producer.send_offsets_to_transaction(offsets, self._group_id)
                last = await acked
                await producer.commit_transaction()
            except BaseException:
                # Fenced or failed: this producer is done; the caller stops the worker
                # (nothing was committed, so the input is processed again after restart).
                if acked is not None:
                    _forget(acked)
                self._producers.pop(key, None)
                await _close(producer)
                raise
            if unit.next_offset is not None:
                self._positions[key] = unit.next_offset
            return last

    async def assigned(self, stage: str, partitions: Iterable[int]) -> None:
        """Close the producers of partitions that went elsewhere and initialise the new
        ones at once: that aborts what a dead previous owner left open, which would
        otherwise hold read_committed consumers back until its transaction timed out."""
        owned = {(stage, partition) for partition in partitions}
        async with self._stage_locked(stage):
            for key in [k for k in self._producers if k[0] == stage and k not in owned]:
                await _close(self._producers.pop(key))
            for key in [k for k in self._positions if k[0] == stage and k not in owned]:
                del self._positions[key]  # another worker moves it on meanwhile
            self._owned = {k for k in self._owned if k[0] != stage} | owned
            await asyncio.gather(*(self._producer(*key) for key in owned))
        self._settled[stage].set()

    async def revoked(self, stage: str, partitions: Iterable[int]) -> None:
        self._settled[stage].clear()
        async with self._stage_locked(stage):
            pass  # the units in flight, if any, are committed now

    @contextlib.asynccontextmanager
    async def _stage_locked(self, stage: str) -> AsyncIterator[None]:
        """Hold the lock of every partition of ``stage`` (in a fixed order)."""
        async with contextlib.AsyncExitStack() as stack:
            for key in sorted(k for k in self._locks if k[0] == stage):
                await stack.enter_async_context(self._locks[key])
            yield

    async def stop(self) -> None:
        producers, self._producers = list(self._producers.values()), {}
        self._owned.clear()
        for producer in producers:
            await _close(producer)


async def _close(producer: AIOKafkaProducer) -> None:
    try:
        await producer.stop()
    except Exception:  # a fenced producer may fail to stop cleanly; it is discarded anyway
        log.debug("stopping a producer failed", exc_info=True)
