"""The Faust app: topics, the state table and the two agents (contract section 5).

``intake`` reads raw bytes from the scores topic, validates them at the edge and either
dead-letters them (with source topic/partition/offset and a reason) or forwards the
validated event to ``<app_id>-scores-by-board``, keyed by board, so that one worker applies
each board's events in order. ``rank`` takes batches from that topic and hands them to the
:class:`~streams.ranker.Ranker`. Neither agent lets an exception escape: faust would ack and
skip the message, so input problems become dead letters and anything else stops the worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any, cast

import faust
from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]
from aiokafka.producer.message_accumulator import BatchBuilder  # type: ignore[import-untyped]

from .api import register_api
from .engine.config import BoardsConfig, load_boards
from .engine.core import is_future
from .engine.events import dumps
from .intake import Rejection, dead_letter_for_source, decode_event
from .ranker import Item, Ranker
from .settings import Settings
from .wire import decode_event as decode_internal
from .wire import encode_event

log = logging.getLogger(__name__)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


#: Upper bound of one atomic changelog flush; the changelog topic accepts batches this big.
CHANGELOG_BATCH_BYTES = 16 * 1024 * 1024


class _FaustSink:
    """Sends the ranker's output with aiokafka's batch API on faust's own producer.

    faust flushes that producer before it commits offsets. Records are grouped by the
    partition the default (murmur2) partitioner gives their key, as ``Topic.send`` would,
    and appended in order, so each board's records keep their order.
    """

    def __init__(
        self,
        app: faust.App,
        changes: str,
        dlq: faust.TopicT,
        changelog: str,
        outputs: list[faust.TopicT],
    ) -> None:
        self._app = app
        self._changes = changes
        self._dlq = dlq
        self._changelog = changelog
        self._partitioner = DefaultPartitioner()
        self._undeclared = {topic.get_topic_name(): topic for topic in outputs}

    async def _declare(self, topic: str) -> None:
        """Create an output topic before its first record: faust only declares topics it
        consumes, and a production broker usually does not auto-create topics."""
        output = self._undeclared.pop(topic, None)
        if output is not None:
            await output.maybe_declare()

    def _producer(self) -> Any:
        return self._app.producer._ensure_producer()  # type: ignore[attr-defined]

    async def changes(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        await self.keyed(self._changes, records)

    async def keyed(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Send (key, value) pairs to ``topic``, partitioned by key; an empty key (dead
        letters) spreads records round the partitions by position."""
        if not records:
            return
        await self._declare(topic)
        partitions = sorted(await self._producer().partitions_for(topic))
        grouped: dict[int, list[tuple[bytes, bytes | None]]] = defaultdict(list)
        for n, (key, value) in enumerate(records):
            if key:
                grouped[self._partitioner(key, partitions, partitions)].append((key, value))
            else:
                grouped[partitions[n % len(partitions)]].append((None, value))  # type: ignore[arg-type]
        await self._send(topic, grouped)

    async def changelog(self, partition: int, items: Sequence[tuple[bytes, bytes | None]]) -> None:
        """One record batch per flush: Kafka appends a batch atomically, so a worker killed
        mid-flush leaves either all of a batch's state in the changelog or none of it. (A
        prefix would be wrong: dedup markers without their score updates lose scores.)"""
        producer = self._producer()
        batch = BatchBuilder(
            CHANGELOG_BATCH_BYTES,
            producer._message_accumulator._compression_type,
            is_transactional=False,
        )
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:
                # Only a retention drop of a very large window gets here. Its tombstones
                # are idempotent, so sending them in several batches is safe enough.
                log.warning(
                    "changelog flush of %d keys exceeds one batch; sending in parts", len(items)
                )
                await self._send(self._changelog, {partition: list(items)})
                return
        await (await producer.send_batch(batch, self._changelog, partition=partition))

    async def dead_letter(self, value: bytes) -> Awaitable[Any]:
        return await self._dlq.send(value=value)

    async def _send(self, topic: str, grouped: dict[int, list[tuple[bytes, bytes | None]]]) -> None:
        producer = self._producer()
        sent = []
        for partition, items in grouped.items():
            batch = producer.create_batch()
            for key, value in items:
                if batch.append(key=key, value=value, timestamp=None) is None:  # batch full
                    sent.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        raise ValueError(f"a record of {len(value or b'')} bytes exceeds a batch")
            sent.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*sent)


def _die(what: str) -> None:
    """Leave at once, before faust can commit the failed message's offset.

    faust acks a message whose handler raised (and ``take_events`` acks its batch in a
    ``finally``), and a graceful stop commits acked offsets, so raising would skip input.
    Exiting hard keeps the offset uncommitted; the restarted worker processes it again.
    """
    log.exception("%s; exiting without committing its offset", what)
    logging.shutdown()
    os._exit(70)


def _raw_topic(app: faust.App, name: str, partitions: int | None = None) -> faust.TopicT:
    """A topic of raw bytes; with ``partitions`` the worker creates it when missing."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=partitions is not None,
    )


def create_app(settings: Settings, boards: BoardsConfig | None = None) -> faust.App:
    config = boards if boards is not None else load_boards(settings.boards)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        store="rocksdb://",
        datadir=str(settings.data_dir),
        processing_guarantee="at_least_once",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        producer_linger_ms=settings.producer_linger_ms,
        broker_commit_interval=settings.commit_interval_s,
        web_port=settings.web_port,
        web_host="localhost",
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
    )
    scores = _raw_topic(app, settings.scores_topic)
    by_board = _raw_topic(app, f"{settings.app_id}-scores-by-board", settings.partitions)
    # Output topics are declared (created when missing) by the worker at start-up, so the
    # first record never races the broker's auto-creation.
    changes = _raw_topic(app, settings.changes_topic, settings.partitions)
    dlq = _raw_topic(app, settings.dlq_topic, settings.partitions)
    table = app.Table(
        "state",
        partitions=settings.partitions,
        options={
            "block_cache_size": settings.rocksdb_block_cache_mb * 1024 * 1024,
            "write_buffer_size": settings.rocksdb_write_buffer_mb * 1024 * 1024,
            "max_write_buffer_number": 2,
        },
        extra_topic_configs={"max.message.bytes": str(CHANGELOG_BATCH_BYTES + 1024 * 1024)},
        key_type=bytes,  # bytes keys and values use faust's raw serializer
        value_type=bytes,
    )
    future_detail = f"ts is more than {config.max_future_seconds}s ahead of the wall clock"
    sink = _FaustSink(
        app,
        changes.get_topic_name(),
        dlq,
        table.changelog_topic.get_topic_name(),
        outputs=[changes, dlq],
    )
    ranker = Ranker(
        config,
        lambda partition: table.data._db_for_partition(partition),  # type: ignore[attr-defined]
        wall_clock_ms,
        sink,
    )

    register_api(app, ranker, settings, config, by_board.get_topic_name())

    def batches(stream: faust.StreamT[bytes]) -> AsyncIterator[Sequence[faust.EventT[bytes]]]:
        """Both agents work on batches; take_events acks a batch only when the next one is
        asked for, i.e. after the loop body has finished with it."""
        within = settings.batch_max_ms / 1000
        return cast(faust.Stream[bytes], stream).take_events(settings.batch_max_events, within)

    @app.agent(scores)
    async def intake(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream):
            try:
                forwards: list[tuple[bytes, bytes]] = []
                letters: list[bytes] = []
                now = wall_clock_ms()
                for event in batch:
                    message = event.message
                    raw_value = message.value or b""
                    decoded = decode_event(raw_value)
                    if not isinstance(decoded, Rejection) and is_future(
                        decoded.ts, now, config.max_future_seconds
                    ):
                        decoded = Rejection("future", future_detail)
                    if isinstance(decoded, Rejection):
                        letter = dead_letter_for_source(
                            decoded, raw_value, message.topic, message.partition, message.offset
                        )
                        letters.append(dumps(letter).encode())
                    else:
                        forwards.append((decoded.board.encode(), encode_event(decoded)))
                await sink.keyed(by_board.get_topic_name(), forwards)
                await sink.keyed(dlq.get_topic_name(), [(b"", letter) for letter in letters])
                for _ in letters:
                    ranker.counts.add("invalid")
            except BaseException:
                _die("intake: batch failed")

    @app.agent(by_board)
    async def rank(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream):
            try:
                items = [
                    Item(
                        e.message.topic,
                        e.message.partition,
                        e.message.offset,
                        e.value,
                        decode_internal(e.value),
                    )
                    for e in batch
                ]
                await ranker.process(items)
            except BaseException:
                _die("rank: batch failed")

    @app.timer(10.0)  # type: ignore[untyped-decorator]
    async def _log_counts() -> None:
        counts = ranker.counts
        if counts.batches:
            events = sum(counts.by_outcome.values())
            log.info(
                "rank: %s, %d records, %d batches (%.0f events/batch)",
                counts.by_outcome,
                counts.records,
                counts.batches,
                events / counts.batches,
            )

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _forget_engines(app: faust.App, revoked: set[Any], **kwargs: Any) -> None:
        # A revoked partition's engine caches go stale once another worker writes to it.
        ranker.revoke(tp.partition for tp in revoked if tp.topic == by_board.get_topic_name())

    return app
