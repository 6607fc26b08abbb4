"""The Faust app: topics, the state table and the two agents (contract section 5).

``intake`` reads raw bytes from the scores topic, validates them at the edge and either
dead-letters them (with source topic/partition/offset and a reason) or forwards the
validated events to ``<app_id>-scores-by-board``, keyed by board, so that one worker applies
each board's events in order; one message there holds a batch's run of one board's events
(:mod:`streams.wire`: faust's cost is per message). ``rank`` takes batches from that topic
and hands them to the :class:`~streams.ranker.Ranker`. Neither agent lets an exception
escape: faust would ack and skip the message, so input problems become dead letters and
anything else stops the worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import faust

from .api import register_api
from .consumer import RankstreamConsumer, consumer_class
from .engine.config import BoardsConfig, load_boards
from .engine.core import is_future
from .engine.events import dumps
from .intake import Rejection, dead_letter_for_source, decode_event
from .publish import (
    NotOwned,
    Outputs,
    PlainPublisher,
    Publisher,
    TransactionalPublisher,
    Unit,
    pending,
)
from .ranker import STAGE, Item, Ranker
from .restore import restore
from .settings import Settings
from .state.layout import partition_path
from .state.rocksdb import RocksStore
from .state.tuning import RocksTuning
from .topics import STATE_LOG_CONFIG, by_board_topic, state_log_topic
from .wire import decode_events, encode_event, pack_events

log = logging.getLogger(__name__)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class _Declarer:
    """Creates output topics before their first record: faust only declares topics it
    consumes, and a production broker usually does not auto-create topics."""

    def __init__(self, outputs: list[faust.TopicT]) -> None:
        self._undeclared = {topic.get_topic_name(): topic for topic in outputs}

    async def __call__(self, topic: str) -> None:
        output = self._undeclared.pop(topic, None)
        if output is not None:
            await output.maybe_declare()

    async def all(self) -> None:
        for topic in list(self._undeclared):
            await self(topic)


def _message_offset(event: faust.EventT[bytes]) -> int:
    return int(event.message.offset)


def _die(what: str) -> None:
    """Leave at once, before faust can commit the failed message's offset.

    faust acks a message whose handler raised (and ``take_events`` acks its batch in a
    ``finally``), and a graceful stop commits acked offsets, so raising would skip input.
    Exiting hard keeps the offset uncommitted; the restarted worker processes it again.
    """
    log.exception("%s; exiting without committing its offset", what)
    logging.shutdown()
    os._exit(70)


class _ConsumerDeliveries:
    """:class:`~streams.publish.Deliveries` answered by the app's consumer, which faust
    creates only after :func:`create_app`."""

    def __init__(self, app: faust.App) -> None:
        self._app = app

    def _consumer(self) -> RankstreamConsumer:
        return cast(RankstreamConsumer, self._app.consumer)

    def delivered_done(self, topic: str, partition: int, position: int) -> int:
        return self._consumer().delivered_done(topic, partition, position)

    def follow_on(self, topic: str, partition: int, done: int, offsets: Sequence[int]) -> int:
        return self._consumer().follow_on(topic, partition, done, offsets)


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


def _publisher(app: faust.App, settings: Settings, outputs: Outputs) -> Publisher:
    if settings.processing_guarantee == "exactly_once":
        return TransactionalPublisher(
            outputs,
            bootstrap=settings.kafka_bootstrap,
            app_id=settings.app_id,
            linger_ms=settings.producer_linger_ms,
            transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
        )
    return PlainPublisher(outputs, app.producer._ensure_producer)  # type: ignore[attr-defined]


#: A transaction left open by a killed worker holds read_committed consumers back until its
#: partition's next owner starts (which aborts it) or this timeout passes.
TRANSACTION_TIMEOUT_MS = 30_000


def create_app(settings: Settings, boards: BoardsConfig | None = None) -> faust.App:
    config = boards if boards is not None else load_boards(settings.boards)
    exactly_once = settings.processing_guarantee == "exactly_once"
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        store="rocksdb://",
        datadir=str(settings.data_dir),
        # faust's own exactly-once mode is not used even when we give exactly-once:
        # streams.publish explains why and does the transactions itself.
        processing_guarantee="at_least_once",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        producer_linger_ms=settings.producer_linger_ms,
        broker_commit_interval=settings.commit_interval_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        web_port=settings.web_port,
        web_host="localhost",
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
    )
    scores = _raw_topic(app, settings.scores_topic)
    by_board = _raw_topic(app, by_board_topic(settings), settings.partitions)
    scores_name, by_board_name = scores.get_topic_name(), by_board.get_topic_name()
    # Output topics are declared (created when missing) before their first record, so the
    # first record never races the broker's auto-creation.
    changes = _raw_topic(app, settings.changes_topic, settings.partitions)
    dlq = _raw_topic(app, settings.dlq_topic, settings.partitions)
    state_log = app.topic(
        state_log_topic(settings),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
        internal=True,
        compacting=True,
        config=STATE_LOG_CONFIG,
    )
    # The state lives in one RocksDB (rocksdict) per by-board partition, opened by the
    # ranker; the changelog is ``state_log`` (see streams.restore). This faust table holds
    # no data: it makes faust's assignor keep table partition p with by-board partition p
    # and lets the web layer route a board's queries to the worker that owns it. (faust's
    # table storage is not used: on a rebalance it drops the database handle of every
    # partition, even one that stays, and its recovery cannot read a transactional log.)
    app.Table(
        "state",
        partitions=settings.partitions,
        key_type=bytes,  # bytes keys and values use faust's raw serializer
        value_type=bytes,
    )
    tuning = RocksTuning(
        block_cache_bytes=settings.rocksdb_block_cache_mb * 1024 * 1024,
        write_buffer_bytes=settings.rocksdb_write_buffer_mb * 1024 * 1024,
    )

    def open_store(partition: int) -> RocksStore:
        path = partition_path(settings.data_dir, settings.app_id, partition)
        path.parent.mkdir(parents=True, exist_ok=True)
        return RocksStore(path, tuning)

    app.transport.Consumer = consumer_class(  # type: ignore[misc]
        {scores_name, by_board_name} if exactly_once else set()
    )
    declare = _Declarer([changes, dlq, by_board, state_log])
    outputs = Outputs(state_log.get_topic_name(), declare=declare)
    publisher = _publisher(app, settings, outputs)
    future_detail = f"ts is more than {config.max_future_seconds}s ahead of the wall clock"

    async def restore_partition(store: RocksStore, partition: int) -> int:
        await declare(outputs.changelog_topic)  # it may be read before its first write
        return await restore(store, settings.kafka_bootstrap, outputs.changelog_topic, partition)

    deliveries = _ConsumerDeliveries(app)
    ranker = Ranker(
        config,
        open_store,
        wall_clock_ms,
        publisher,
        (changes.get_topic_name(), dlq.get_topic_name()),
        restore_partition,
        settings.rank_tree_cache_nodes,
        deliveries,
    )

    register_api(app, ranker, settings, config, by_board.get_topic_name())

    def batches(stream: faust.StreamT[bytes]) -> AsyncIterator[Sequence[faust.EventT[bytes]]]:
        """Both agents work on batches; take_events acks a batch only when the next one is
        asked for, i.e. after the loop body has finished with it."""
        within = settings.batch_max_ms / 1000
        return cast(faust.Stream[bytes], stream).take_events(settings.batch_max_events, within)

    def intake_unit(partition: int, events: list[faust.EventT[bytes]], now: int) -> Unit:
        unit = Unit(scores_name, partition, events[-1].message.offset + 1)
        runs: dict[str, list[bytes]] = {}  # per board, its valid events in intake order
        for event in events:
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
                unit.records.append((dlq.get_topic_name(), b"", dumps(letter).encode()))
            else:
                runs.setdefault(decoded.board, []).append(encode_event(decoded))
        for board, encoded in runs.items():
            key = board.encode()
            unit.records += [(by_board_name, key, value) for value in pack_events(encoded)]
        return unit

    async def intake_partition(partition: int, events: list[faust.EventT[bytes]], now: int) -> None:
        position = publisher.position("intake", partition)
        events = pending(events, _message_offset, (scores_name, partition), position, deliveries)
        if not events:
            return
        unit = intake_unit(partition, events, now)
        try:
            await publisher.publish("intake", unit)
        except NotOwned:
            return  # the partition's new owner reads these events again
        invalid = sum(1 for topic, _, _ in unit.records if topic != by_board_name)
        if invalid:
            ranker.counts.add("invalid", invalid)

    @app.agent(scores)
    async def intake(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream):
            try:
                now = wall_clock_ms()
                by_partition: dict[int, list[faust.EventT[bytes]]] = {}
                for event in batch:
                    by_partition.setdefault(event.message.partition, []).append(event)
                await asyncio.gather(
                    *(intake_partition(p, events, now) for p, events in by_partition.items())
                )
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
                        decode_events(e.value),
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

    def partitions_of(tps: set[Any], topic: str) -> list[int]:
        return sorted(tp.partition for tp in tps if tp.topic == topic)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _revoked(app: faust.App, revoked: set[Any], **kwargs: Any) -> None:
        # Waits for each stage's unit in flight; new units wait for the new assignment.
        await publisher.revoked("intake", partitions_of(revoked, scores_name))
        await publisher.revoked(STAGE, partitions_of(revoked, by_board_name))

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def _assigned(app: faust.App, assigned: set[Any], **kwargs: Any) -> None:
        try:
            await declare.all()
            await publisher.assigned("intake", partitions_of(assigned, scores_name))
            await publisher.assigned(STAGE, partitions_of(assigned, by_board_name))
        except BaseException:
            _die("could not initialise transactional producers")
        ranker.assign(partitions_of(assigned, by_board_name))

    @app.service
    class _Stopper(faust.Service):
        async def on_stop(self) -> None:
            await publisher.stop()
            ranker.close()

    return app
