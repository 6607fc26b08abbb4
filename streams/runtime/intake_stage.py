"""The intake stage: scores topic -> validation -> by-board runs and dead letters.

A plain aiokafka consume -> validate -> produce loop, in its own consumer group
``<app_id>-intake`` (design record: ``docs/design/intake-stage.md``). Invariants:

* Exactly-once (the default): a batch's share of one input partition is one
  :class:`~streams.runtime.publish.Unit`: its by-board runs, its dead letters and the
  partition's next input offset go out in ONE Kafka transaction on the producer
  ``<app_id>-intake-<p>``, so a ``read_committed`` reader of the by-board or DLQ topic sees
  each input once. Offsets are never committed any other way (``enable_auto_commit`` is
  off and nothing calls ``commit``): the group's position only moves with a committed
  transaction.
* A rebalance waits for the batch in flight (``on_partitions_revoked`` takes the batch lock),
  so a unit is committed before its partition can move; a partition that moved anyway is
  dropped (:class:`~streams.runtime.publish.NotOwned`) and read again by its new owner from the
  committed offset. Records below this worker's own committed position are skipped, because
  after a rebalance the consumer is sought back to the group's committed offset.
* At-least-once: the same units on one idempotent producer, offsets committed after the
  broker acknowledged them.
* Batching takes what is already fetched (:class:`Gatherer`): an idle stage flushes at once,
  a busy one gathers the next batch while the previous transaction is in flight (a
  :class:`Prefetch` task keeps the consumer drained meanwhile, up to one batch), and a
  batch never exceeds ``batch_max_events`` records or ``batch_max_ms`` of waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import (  # type: ignore[import-untyped]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)

from streams.edge import refusals
from streams.edge.validation import Rejection, dead_letter_for_source, decode_event
from streams.edge.wire import encode_event, pack_events
from streams.engine.config import BoardsConfig
from streams.engine.core import is_future
from streams.engine.events import dumps
from streams.runtime.batching import Gatherer, Prefetch
from streams.runtime.publish import (
    NotOwned,
    Outputs,
    Publisher,
    TransactionalPublisher,
    Unit,
    unseen,
)

log = logging.getLogger(__name__)

STAGE = "intake"


class Record(Protocol):
    """The fields of an aiokafka ``ConsumerRecord`` the stage reads."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class IntakeTopics:
    scores: str
    by_board: str
    dlq: str


def intake_unit(
    records: Sequence[Record], now_ms: int, config: BoardsConfig, topics: IntakeTopics
) -> tuple[Unit, int]:
    """One input partition's records (in offset order) as a unit: valid events as runs of
    one board's events (in input order), invalid ones as dead letters with their source
    coordinates. Returns the unit and its number of dead letters."""
    first = records[0]
    unit = Unit(first.topic, first.partition, records[-1].offset + 1)
    runs: dict[str, list[bytes]] = {}
    invalid = 0
    for record in records:
        raw = record.value or b""
        decoded = decode_event(raw)
        if not isinstance(decoded, Rejection) and is_future(
            decoded.ts, now_ms, config.max_future_seconds
        ):
            decoded = refusals.future(config)
        if isinstance(decoded, Rejection):
            letter = dead_letter_for_source(
                decoded, raw, record.topic, record.partition, record.offset
            )
            unit.records.append((topics.dlq, b"", dumps(letter).encode()))
            invalid += 1
        else:
            runs.setdefault(decoded.board, []).append(encode_event(decoded))
    for board, encoded in runs.items():
        key = board.encode()
        unit.records += [(topics.by_board, key, value) for value in pack_events(encoded)]
    return unit, invalid


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, stage: IntakeStage) -> None:
        self._stage = stage

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._stage.revoked([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        await self._stage.assigned([tp.partition for tp in assigned])


@dataclass(frozen=True, slots=True)
class IntakeOptions:
    """What the stage needs of the settings (passed down, never read here)."""

    app_id: str
    exactly_once: bool
    batch_max_events: int
    batch_max_ms: int
    linger_ms: int
    session_timeout_ms: int
    transaction_timeout_ms: int
    client: Mapping[str, Any]  # bootstrap and security options for every aiokafka client
    group_instance_id: str | None = None  # static membership, this stage's own id


class IntakeStage:
    """Runs the loop of the module docstring until :meth:`stop`."""

    def __init__(
        self,
        options: IntakeOptions,
        config: BoardsConfig,
        topics: IntakeTopics,
        clock: Callable[[], int],
        on_invalid: Callable[[int], None] = lambda n: None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._options = options
        self._config = config
        self._topics = topics
        self._clock = clock
        self._on_invalid = on_invalid
        self._monotonic = monotonic or asyncio.get_running_loop().time
        self._outputs = Outputs(changelog_topic="")  # intake units change no state
        self._batch_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._prefetch: Prefetch | None = None
        self._prefetch_task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None  # at-least-once only
        self._publisher: Publisher | None = None
        self.assignment: frozenset[int] = frozenset()
        self.batches = 0
        self.records = 0

    @property
    def group_id(self) -> str:
        return f"{self._options.app_id}-intake"

    async def start(self) -> None:
        o = self._options
        self._consumer = AIOKafkaConsumer(
            **o.client,
            group_id=self.group_id,
            group_instance_id=o.group_instance_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            session_timeout_ms=o.session_timeout_ms,
            heartbeat_interval_ms=min(3000, o.session_timeout_ms // 3),
        )
        if o.exactly_once:
            self._publisher = TransactionalPublisher(
                self._outputs,
                app_id=o.app_id,
                linger_ms=o.linger_ms,
                transaction_timeout_ms=o.transaction_timeout_ms,
                client_options=o.client,
                group_id=self.group_id,
            )
        else:
            self._producer = AIOKafkaProducer(
                **o.client, linger_ms=o.linger_ms, acks="all", enable_idempotence=True
            )
            await self._producer.start()
        await self._consumer.start()
        self._consumer.subscribe([self._topics.scores], listener=_Listener(self))
        self._prefetch = Prefetch(self._consumer.getmany, o.batch_max_events)
        self._prefetch_task = asyncio.ensure_future(self._prefetch.run())
        self._task = asyncio.ensure_future(self._run(self._prefetch))

    async def stop(self) -> None:
        if self._task is not None:
            async with self._batch_lock:  # let the unit in flight finish
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._prefetch_task is not None:
            self._prefetch_task.cancel()
            await asyncio.gather(self._prefetch_task, return_exceptions=True)
            self._prefetch_task = None
        if self._consumer is not None:
            await self._consumer.stop()
        if self._publisher is not None:
            await self._publisher.stop()
        if self._producer is not None:
            await self._producer.stop()

    @property
    def failed(self) -> BaseException | None:
        """The error that ended the loop, if it ended by itself."""
        if self._task is None or not self._task.done() or self._task.cancelled():
            return None
        return self._task.exception()

    def done(self) -> Awaitable[None]:
        assert self._task is not None
        return asyncio.shield(self._task)

    # -- rebalances (aiokafka's listener) ----------------------------------------------

    async def revoked(self, partitions: list[int]) -> None:
        async with self._batch_lock:  # the batch in flight commits first
            if self._publisher is not None:
                await self._publisher.revoked(STAGE, partitions)
            if self._prefetch is not None:
                self._prefetch.clear()  # delivered again from the committed offsets
        self.assignment = frozenset()

    async def assigned(self, partitions: list[int]) -> None:
        if self._publisher is not None:
            # Initialises each partition's transactional producer: fences a previous
            # owner and aborts the transaction it left open.
            await self._publisher.assigned(STAGE, partitions)
        self.assignment = frozenset(partitions)
        log.info("intake: assigned scores partitions %s", sorted(partitions))

    # -- the loop ------------------------------------------------------------------------

    async def _run(self, prefetch: Prefetch) -> None:
        gatherer = Gatherer(
            prefetch.getmany,
            self._options.batch_max_events,
            self._options.batch_max_ms,
            self._monotonic,
        )
        while True:
            batch = await gatherer.batch()
            if not batch:
                continue
            async with self._batch_lock:
                now = self._clock()
                await asyncio.gather(
                    *(self._partition(tp.partition, records, now) for tp, records in batch.items())
                )
            self.batches += 1

    async def _partition(self, partition: int, records: list[Record], now: int) -> None:
        position = 0 if self._publisher is None else self._publisher.position(STAGE, partition)
        records = unseen(records, _offset, position)
        if not records:
            return
        unit, invalid = intake_unit(records, now, self._config, self._topics)
        if self._publisher is not None:
            try:
                await self._publisher.publish(STAGE, unit)
            except NotOwned:
                return  # the partition's new owner reads these records again
        else:
            assert self._producer is not None and self._consumer is not None
            await self._outputs.send(self._producer, unit, transactional=False)
            tp = TopicPartition(unit.topic, unit.partition)
            await self._consumer.commit({tp: unit.next_offset})
        self.records += len(records)
        if invalid:
            self._on_invalid(invalid)


def _offset(record: Record) -> int:
    return record.offset
