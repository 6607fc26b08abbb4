"""The Faust app: topics, the state table and the two agents (contract section 5).

``intake`` reads raw bytes from the scores topic, validates them at the edge and either
dead-letters them (with source topic/partition/offset and a reason) or forwards the
validated event to ``<app_id>-scores-by-board``, keyed by board, so that one worker applies
each board's events in order. ``rank`` takes batches from that topic and hands them to the
:class:`~streams.ranker.Ranker`. Neither agent lets an exception escape: faust would ack and
skip the message, so input problems become dead letters and anything else stops the worker.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable
from typing import Any, cast

import faust
from faust.types import TableT

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


class _FaustSink:
    """Sends the ranker's output through faust's producer, which faust flushes before it
    commits offsets."""

    def __init__(
        self, changes: faust.TopicT, dlq: faust.TopicT, table: TableT[bytes, bytes]
    ) -> None:
        self._changes = changes
        self._dlq = dlq
        self._table = table

    async def change(self, board: str, value: bytes) -> Awaitable[Any]:
        return await self._changes.send(key=board.encode(), value=value)

    async def changelog(self, partition: int, key: bytes, value: bytes | None) -> Awaitable[Any]:
        return await self._table.changelog_topic.send(key=key, value=value, partition=partition)

    async def dead_letter(self, value: bytes) -> Awaitable[Any]:
        return await self._dlq.send(value=value)


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
        key_type=bytes,  # bytes keys and values use faust's raw serializer
        value_type=bytes,
    )
    future_detail = f"ts is more than {config.max_future_seconds}s ahead of the wall clock"
    ranker = Ranker(
        config,
        lambda partition: table.data._db_for_partition(partition),  # type: ignore[attr-defined]
        wall_clock_ms,
        _FaustSink(changes, dlq, table),
    )
    app.ranker = ranker  # type: ignore[attr-defined]

    @app.agent(scores)
    async def intake(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                message = event.message
                raw_value = message.value or b""
                decoded = decode_event(raw_value)
                if not isinstance(decoded, Rejection) and is_future(
                    decoded.ts, wall_clock_ms(), config.max_future_seconds
                ):
                    decoded = Rejection("future", future_detail)
                if isinstance(decoded, Rejection):
                    letter = dead_letter_for_source(
                        decoded, raw_value, message.topic, message.partition, message.offset
                    )
                    await dlq.send(value=dumps(letter).encode())
                    ranker.counts.add("invalid")
                else:
                    await by_board.send(key=decoded.board.encode(), value=encode_event(decoded))
            except BaseException:
                _die("intake: message handling failed")

    @app.agent(by_board)
    async def rank(stream: faust.StreamT[bytes]) -> None:
        within = settings.batch_max_ms / 1000
        async for batch in cast(faust.Stream[bytes], stream).take_events(
            settings.batch_max_events, within
        ):
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

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _forget_engines(app: faust.App, revoked: set[Any], **kwargs: Any) -> None:
        # A revoked partition's engine caches go stale once another worker writes to it.
        ranker.revoke(tp.partition for tp in revoked if tp.topic == by_board.get_topic_name())

    return app
