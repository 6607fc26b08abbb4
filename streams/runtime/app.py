"""The worker: the intake stage (a service of the app) and the Faust rank agent.

The intake (:mod:`streams.runtime.intake_stage`, plain aiokafka) validates the scores topic and
forwards runs of one board's events to ``<app_id>-scores-by-board``, keyed by board, so
that one worker applies each board's events in order. The ``rank`` agent takes batches from
that topic and hands them to the :class:`~streams.runtime.ranker.Ranker`, at most
``batch_max_events`` events per unit. Nothing lets an exception escape into faust: it would
ack and skip the message, so input problems become dead letters and anything else stops the
worker before an offset moves (:func:`_die`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, cast

import faust

from schemas.timefmt import wall_clock_ms
from streams.apps.api import register_api
from streams.apps.api.routes import MAX_REQUEST_LINE
from streams.edge.wire import decode_events
from streams.engine.config import BoardsConfig, load_boards
from streams.runtime.batching import chunks
from streams.runtime.consumer import RankstreamConsumer, consumer_class
from streams.runtime.idle import CaughtUp
from streams.runtime.intake_stage import IntakeOptions, IntakeStage, IntakeTopics
from streams.runtime.kafka_clients import faust_broker_credentials, group_instance_id, kafka_options
from streams.runtime.publish import (
    NotOwned,
    Outputs,
    PlainPublisher,
    Publisher,
    TransactionalPublisher,
)
from streams.runtime.ranker import STAGE, Item, Ranker
from streams.runtime.restore import restore
from streams.runtime.settings import Settings
from streams.runtime.state.layout import partition_path
from streams.runtime.state.rocksdb import RocksStore
from streams.runtime.state.tuning import RocksTuning
from streams.runtime.topics import STATE_LOG_CONFIG, by_board_topic, state_log_topic

log = logging.getLogger(__name__)


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


def _event_count(item: Item) -> int:
    return len(item.events)


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
    """:class:`~streams.runtime.publish.Deliveries` answered by the app's consumer, which faust
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
            app_id=settings.app_id,
            linger_ms=settings.producer_linger_ms,
            transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
            client_options=kafka_options(settings),
        )
    return PlainPublisher(outputs, app.producer._ensure_producer)  # type: ignore[attr-defined]


#: A transaction left open by a killed worker holds read_committed consumers back until its
#: partition's next owner starts (which aborts it) or this timeout passes.
TRANSACTION_TIMEOUT_MS = 30_000
#: How often idle boards are checked: a window of an idle board closes at most this long
#: after end + grace (and idle_close_seconds after the board's last event).
IDLE_CHECK_S = 2.0


def intake_stage(
    settings: Settings, config: BoardsConfig, on_invalid: Callable[[int], None]
) -> IntakeStage:
    """The intake stage as the worker and `rankstream intake` run it."""
    options = IntakeOptions(
        app_id=settings.app_id,
        exactly_once=settings.processing_guarantee == "exactly_once",
        batch_max_events=settings.batch_max_events,
        batch_max_ms=settings.batch_max_ms,
        linger_ms=settings.producer_linger_ms,
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
        client=kafka_options(settings),
        group_instance_id=group_instance_id(settings, "intake"),
    )
    topics = IntakeTopics(settings.scores_topic, by_board_topic(settings), settings.dlq_topic)
    return IntakeStage(options, config, topics, wall_clock_ms, on_invalid)


def create_app(settings: Settings, boards: BoardsConfig | None = None) -> faust.App:
    config = boards if boards is not None else load_boards(settings.boards)
    exactly_once = settings.processing_guarantee == "exactly_once"
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=faust_broker_credentials(settings),
        # Static membership: a restarted worker takes its own partitions back at once.
        consumer_group_instance_id=settings.group_instance_id,
        store="rocksdb://",
        datadir=str(settings.data_dir),
        # faust's own exactly-once mode is not used even when we give exactly-once:
        # streams.runtime.publish explains why and does the transactions itself.
        processing_guarantee="at_least_once",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        producer_linger_ms=settings.producer_linger_ms,
        broker_commit_interval=settings.commit_interval_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        web_port=settings.web_port,
        web_host=settings.web_host,
        canonical_url=settings.web_canonical_url
        or f"http://{settings.web_host}:{settings.web_port}",
        # The longest valid request line (100 user ids) must reach the API: aiohttp refuses
        # longer ones itself, in plain text, before any middleware.
        web_application_options={"handler_args": {"max_line_size": MAX_REQUEST_LINE}},
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
    )
    by_board = _raw_topic(app, by_board_topic(settings), settings.partitions)
    by_board_name = by_board.get_topic_name()
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
    # ranker; the changelog is ``state_log`` (see streams.runtime.restore). This faust table holds
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
        {by_board_name} if exactly_once else set()
    )
    declare = _Declarer([changes, dlq, by_board, state_log])
    outputs = Outputs(state_log.get_topic_name(), declare=declare)
    publisher = _publisher(app, settings, outputs)

    async def restore_partition(store: RocksStore, partition: int) -> int:
        await declare(outputs.changelog_topic)  # it may be read before its first write
        return await restore(
            store,
            settings.kafka_bootstrap,
            outputs.changelog_topic,
            partition,
            options=kafka_options(settings),
        )

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
        """take_events acks a batch only when the next one is asked for, i.e. after the
        loop body has finished with it; it waits at most ``batch_max_ms`` for a batch."""
        within = settings.batch_max_ms / 1000
        return cast(faust.Stream[bytes], stream).take_events(settings.batch_max_events, within)

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
                # A message holds a run of events: the ceiling is in events, per unit.
                for chunk in chunks(items, _event_count, settings.batch_max_events):
                    await ranker.process(chunk)
            except BaseException:
                _die("rank: batch failed")

    caught_up = CaughtUp(
        kafka_options(settings),
        rank=(settings.app_id, by_board_name),
        intake=(f"{settings.app_id}-intake", settings.scores_topic),
    )

    @app.timer(IDLE_CHECK_S)  # type: ignore[untyped-decorator]
    async def _idle_close() -> None:
        """Idle close (contract section 2), through the same exactly-once unit as events."""
        if not config.idle_close_possible():
            return
        try:
            owned = ranker.restored()
            if not owned:
                return
            await caught_up.refresh(owned)
            await ranker.close_idle(wall_clock_ms(), caught_up)
        except NotOwned:
            return
        except BaseException:
            _die("rank: idle close failed")

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
        await publisher.revoked(STAGE, partitions_of(revoked, by_board_name))

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def _assigned(app: faust.App, assigned: set[Any], **kwargs: Any) -> None:
        try:
            await declare.all()
            await publisher.assigned(STAGE, partitions_of(assigned, by_board_name))
        except BaseException:
            _die("could not initialise transactional producers")
        ranker.assign(partitions_of(assigned, by_board_name))

    @app.service
    class _Stages(faust.Service):
        """Starts the intake stage with the app (unless it runs on its own) and stops
        both stages' producers and stores with it."""

        intake: IntakeStage | None = None

        async def on_start(self) -> None:
            if settings.run_intake:
                self.intake = intake_stage(
                    settings, config, lambda n: ranker.counts.add("invalid", n)
                )
                await self.intake.start()
                self.add_future(self._watch(self.intake))

        @staticmethod
        async def _watch(intake: IntakeStage) -> None:
            try:
                await intake.done()
            except asyncio.CancelledError:
                return
            except BaseException:
                _die("intake: batch failed")

        async def on_stop(self) -> None:
            if self.intake is not None:
                await self.intake.stop()
            await caught_up.stop()
            await publisher.stop()
            ranker.close()

    return app
