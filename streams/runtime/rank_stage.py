"""The rank stage on faust: the ``rank`` agent, the idle-close and count-logging timers,
the rebalance handlers, and the service that runs the intake stage beside it.

Invariants (design records: ``docs/design/exactly-once.md``,
``docs/design/by-board-delivery.md``):

* The agent takes batches of the by-board topic and hands them to the
  :class:`~streams.runtime.ranker.Ranker`, at most ``batch_max_events`` events per unit.
* Nothing lets an exception escape into faust, which would ack and skip the message:
  input problems become dead letters, and anything else ends the process (:func:`die`)
  before an offset moves.
* A revoke waits for each stage's unit in flight; the new assignment's transactional
  producers exist (and the topics too) before its first unit.
* Windows of idle boards close through the same exactly-once unit as events, once both
  hops have caught up (:class:`~streams.runtime.idle.CaughtUp`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import faust

from schemas.timefmt import wall_clock_ms
from streams.edge.wire import decode_events
from streams.engine.config import BoardsConfig
from streams.runtime.batching import chunks
from streams.runtime.consumer import RankstreamConsumer
from streams.runtime.faust_app import raw_topic
from streams.runtime.idle import CaughtUp
from streams.runtime.intake_stage import IntakeStage
from streams.runtime.kafka_clients import kafka_options
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
from streams.runtime.stage_setup import TRANSACTION_TIMEOUT_MS, exactly_once, intake_stage
from streams.runtime.state.layout import partition_path
from streams.runtime.state.rocksdb import RocksStore
from streams.runtime.state.tuning import RocksTuning
from streams.runtime.topics import Declarer, by_board_topic, state_log_topic

log = logging.getLogger(__name__)

#: How often idle boards are checked: a window of an idle board closes at most this long
#: after end + grace (and idle_close_seconds after the board's last event).
IDLE_CHECK_S = 2.0
#: How often the rank counts are logged (when there are any).
LOG_COUNTS_S = 10.0


def die(what: str) -> None:
    """Leave at once, before faust can commit the failed message's offset.

    faust acks a message whose handler raised (and ``take_events`` acks its batch in a
    ``finally``), and a graceful stop commits acked offsets, so raising would skip input.
    Exiting hard keeps the offset uncommitted; the restarted worker processes it again.
    """
    log.exception("%s; exiting without committing its offset", what)
    logging.shutdown()
    os._exit(70)


def _event_count(item: Item) -> int:
    return len(item.events)


def _partitions_of(tps: set[Any], topic: str) -> list[int]:
    return sorted(tp.partition for tp in tps if tp.topic == topic)


class _ConsumerDeliveries:
    """:class:`~streams.runtime.publish.Deliveries` answered by the app's consumer, which
    faust creates only once the app starts."""

    def __init__(self, app: faust.App) -> None:
        self._app = app

    def _consumer(self) -> RankstreamConsumer:
        return cast(RankstreamConsumer, self._app.consumer)

    def delivered_done(self, topic: str, partition: int, position: int) -> int:
        return self._consumer().delivered_done(topic, partition, position)

    def follow_on(self, topic: str, partition: int, done: int, offsets: Sequence[int]) -> int:
        return self._consumer().follow_on(topic, partition, done, offsets)


def _publisher(app: faust.App, settings: Settings, outputs: Outputs) -> Publisher:
    if exactly_once(settings):
        return TransactionalPublisher(
            outputs,
            app_id=settings.app_id,
            linger_ms=settings.producer_linger_ms,
            transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
            client_options=kafka_options(settings),
        )
    return PlainPublisher(outputs, app.producer._ensure_producer)  # type: ignore[attr-defined]


class RankStage:
    """The rank stage of one worker; :meth:`attach` registers it with the faust app."""

    def __init__(self, app: faust.App, settings: Settings, config: BoardsConfig) -> None:
        self.settings = settings
        self.config = config
        self.by_board = raw_topic(app, by_board_topic(settings), settings.partitions)
        self.by_board_name: str = self.by_board.get_topic_name()
        self.declare = Declarer(settings)
        self.outputs = Outputs(state_log_topic(settings), declare=self.declare)
        self.publisher = _publisher(app, settings, self.outputs)
        tuning = RocksTuning(
            block_cache_bytes=settings.rocksdb_block_cache_mb * 1024 * 1024,
            write_buffer_bytes=settings.rocksdb_write_buffer_mb * 1024 * 1024,
        )

        def open_store(partition: int) -> RocksStore:
            path = partition_path(settings.data_dir, settings.app_id, partition)
            path.parent.mkdir(parents=True, exist_ok=True)
            return RocksStore(path, tuning)

        self.ranker = Ranker(
            config,
            open_store,
            wall_clock_ms,
            self.publisher,
            (settings.changes_topic, settings.dlq_topic),
            self._restore,
            settings.rank_tree_cache_nodes,
            _ConsumerDeliveries(app),
        )
        self.caught_up = CaughtUp(
            kafka_options(settings),
            rank=(settings.app_id, self.by_board_name),
            intake=(f"{settings.app_id}-intake", settings.scores_topic),
        )
        self.intake: IntakeStage | None = None

    def attach(self, app: faust.App) -> None:
        """The agent, the timers, the rebalance handlers and the service, on ``app``."""
        app.agent(self.by_board, name=f"{__name__}.rank")(self.rank)
        app.timer(IDLE_CHECK_S, name=f"{__name__}.idle_close")(self.close_idle)
        app.timer(LOG_COUNTS_S, name=f"{__name__}.log_counts")(self.log_counts)
        app.on_partitions_revoked.connect(self.on_revoked)  # type: ignore[arg-type]
        app.on_partitions_assigned.connect(self.on_assigned)  # type: ignore[arg-type]
        app.service(self._service())

    async def _restore(self, store: RocksStore, partition: int) -> int:
        await self.declare(self.outputs.changelog_topic)  # read before its first write
        return await restore(
            store,
            self.settings.kafka_bootstrap,
            self.outputs.changelog_topic,
            partition,
            options=kafka_options(self.settings),
        )

    def _batches(
        self, stream: faust.StreamT[bytes]
    ) -> AsyncIterator[Sequence[faust.EventT[bytes]]]:
        """take_events acks a batch only when the next one is asked for, i.e. after the
        loop body has finished with it; it waits at most ``batch_max_ms`` for a batch."""
        within = self.settings.batch_max_ms / 1000
        limit = self.settings.batch_max_events
        return cast(faust.Stream[bytes], stream).take_events(limit, within)

    async def rank(self, stream: faust.StreamT[bytes]) -> None:
        """The agent's body."""
        async for batch in self._batches(stream):
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
                for chunk in chunks(items, _event_count, self.settings.batch_max_events):
                    await self.ranker.process(chunk)
            except BaseException:
                die("rank: batch failed")

    async def close_idle(self) -> None:
        """Idle close (contract section 2), through the same exactly-once unit as events."""
        if not self.config.idle_close_possible():
            return
        try:
            owned = self.ranker.restored()
            if not owned:
                return
            await self.caught_up.refresh(owned)
            await self.ranker.close_idle(wall_clock_ms(), self.caught_up)
        except NotOwned:
            return
        except BaseException:
            die("rank: idle close failed")

    async def log_counts(self) -> None:
        counts = self.ranker.counts
        if counts.batches:
            events = sum(counts.by_outcome.values())
            log.info(
                "rank: %s, %d records, %d batches (%.0f events/batch)",
                counts.by_outcome,
                counts.records,
                counts.batches,
                events / counts.batches,
            )

    async def on_revoked(self, app: faust.App, revoked: set[Any], **kwargs: Any) -> None:
        # Waits for each stage's unit in flight; new units wait for the new assignment.
        await self.publisher.revoked(STAGE, _partitions_of(revoked, self.by_board_name))

    async def on_assigned(self, app: faust.App, assigned: set[Any], **kwargs: Any) -> None:
        partitions = _partitions_of(assigned, self.by_board_name)
        try:
            await self.declare()
            await self.publisher.assigned(STAGE, partitions)
        except BaseException:
            die("could not initialise transactional producers")
        self.ranker.assign(partitions)

    async def start_intake(self) -> IntakeStage | None:
        """Start the intake stage here, unless it runs on its own (``run_intake``)."""
        if self.settings.run_intake:
            self.intake = intake_stage(
                self.settings, self.config, lambda n: self.ranker.counts.add("invalid", n)
            )
            await self.intake.start()
        return self.intake

    @staticmethod
    async def watch_intake(intake: IntakeStage) -> None:
        try:
            await intake.done()
        except asyncio.CancelledError:
            return
        except BaseException:
            die("intake: batch failed")

    async def stop(self) -> None:
        """Stop the intake, then both stages' producers, then the stores."""
        if self.intake is not None:
            await self.intake.stop()
        await self.caught_up.stop()
        await self.publisher.stop()
        self.ranker.close()

    def _service(self) -> type[faust.Service]:
        stage = self

        class RankStageService(faust.Service):
            """Starts the intake stage with the app and stops both stages with it."""

            async def on_start(self) -> None:
                intake = await stage.start_intake()
                if intake is not None:
                    self.add_future(stage.watch_intake(intake))

            async def on_stop(self) -> None:
                await stage.stop()

        return RankStageService
