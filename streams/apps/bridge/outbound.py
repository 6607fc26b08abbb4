"""Out: push topic -> topic exchange ``rank_changes``, routing key ``<board>.<window>``.

One session = one Kafka consumer (group ``<app_id>-bridge``, ``read_committed``, no auto
commit) + one AMQP channel in confirm mode. Records are published persistent, in offset
order, on that one channel, so each partition's order (and so each board's, the push topic
being keyed by board) is the order on the exchange. Many publishes are in flight at once
(``bridge_max_in_flight``); :class:`~.offsets.CommitTracker` turns the confirmations,
which come back in any order, into offsets that are safe to commit: only past records that
were all confirmed.

After any failure the session ends and the next one resumes from the committed offsets.
Records published since the last commit are published again, in the same order: a
consumer may see a repeated run of records (same ``message_id``), never a gap or a swap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiormq
from aio_pika import ExchangeType
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from aiokafka.structs import OffsetAndMetadata  # type: ignore[import-untyped]
from pamqp.commands import Basic

from streams.apps.bridge.offsets import CommitTracker
from streams.apps.bridge.publish import publish_many
from streams.apps.bridge.routing import message_id, route
from streams.apps.bridge.session import BridgePath
from streams.apps.bridge.supervisor import Unavailable

__all__ = ["Outbound"]

log = logging.getLogger("rankstream.bridge")

_COMMIT_EVERY_S = 0.2
_FETCH_MAX = 500


class Outbound(BridgePath):
    async def session(self, connected: Callable[[], None]) -> None:
        s = self.settings
        run = _Run(self, CommitTracker())
        consumer = AIOKafkaConsumer(
            **self.kafka_options,
            group_id=s.bridge_group_id,
            client_id="rankstream-bridge-out",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        consumer.subscribe([s.changes_topic], listener=_Revoked(run))
        run.consumer = consumer
        async with self._opened(consumer, "rankstream-bridge-out") as connection:
            try:
                with self._declaring():
                    channel = await connection.channel(publisher_confirms=True)
                    await channel.declare_exchange(
                        s.bridge_exchange, ExchangeType.TOPIC, durable=True
                    )
                    run.channel = await channel.get_underlay_channel()
                connected()
                log.info(
                    "bridge out: publishing Kafka topic %s (group %s) to exchange %s",
                    s.changes_topic,
                    s.bridge_group_id,
                    s.bridge_exchange,
                )
                await self._until_closed(connection, run.pump())
            finally:
                await run.final_commit()


class _Run:
    """The state of one session: the tracker, the in-flight publishes, the first failure."""

    def __init__(self, owner: Outbound, tracker: CommitTracker[TopicPartition]) -> None:
        self.owner = owner
        self.settings = owner.settings
        self.metrics = owner.metrics
        self.tracker = tracker
        self.consumer: AIOKafkaConsumer | None = None
        self.channel: aiormq.abc.AbstractChannel | None = None
        self.failure: Unavailable | None = None
        self.progress = asyncio.Event()
        self.last_commit = time.monotonic()

    async def pump(self) -> None:
        assert self.consumer is not None and self.channel is not None
        s = self.settings
        while True:
            await self._wait_below(s.bridge_max_in_flight)
            room = max(1, min(_FETCH_MAX, s.bridge_max_in_flight - self.tracker.in_flight))
            batches = await self.consumer.getmany(timeout_ms=100, max_records=room)
            for tp, records in batches.items():
                outgoing: list[tuple[bytes, str, aiormq.spec.Basic.Properties]] = []
                offsets: list[int] = []
                for record in records:
                    self.tracker.add(tp, record.offset)
                    target = route(record.value)
                    if target is None:
                        self.metrics.skipped_out.inc()
                        log.warning(
                            "bridge out: skipped %s/%d/%d: not a push record",
                            tp.topic,
                            tp.partition,
                            record.offset,
                        )
                        self.tracker.confirm(tp, record.offset)
                        continue
                    props = aiormq.spec.Basic.Properties(
                        delivery_mode=2,
                        content_type="application/json",
                        message_id=message_id(tp.topic, tp.partition, record.offset),
                        message_type=target.record_type,
                    )
                    outgoing.append((record.value, target.routing_key, props))
                    offsets.append(record.offset)
                if not outgoing:
                    continue
                try:
                    confirms = await publish_many(self.channel, s.bridge_exchange, outgoing)
                except (aiormq.exceptions.AMQPError, ConnectionError) as exc:
                    raise self.owner._rabbit_down(exc) from exc
                for offset, confirm in zip(offsets, confirms, strict=True):
                    confirm.add_done_callback(self._confirmed_cb(tp, offset))
            self._raise_failure()
            await self._commit_due()

    def _confirmed_cb(
        self, tp: TopicPartition, offset: int
    ) -> Callable[[asyncio.Future[Any]], None]:
        def done(future: asyncio.Future[Any]) -> None:
            self.progress.set()
            if future.cancelled():
                return
            exc = future.exception()
            if exc is not None or not isinstance(future.result(), Basic.Ack):
                if self.failure is None:
                    cause = exc if exc is not None else f"publish not confirmed ({future.result()})"
                    self.failure = self.owner._rabbit_down(cause)
                return
            self.metrics.messages_out.inc()
            with contextlib.suppress(ValueError):  # partition given away by a rebalance
                self.tracker.confirm(tp, offset)

        return done

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def _wait_below(self, limit: int) -> None:
        while self.tracker.in_flight >= limit:
            self._raise_failure()
            self.progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.progress.wait(), 1)
            await self._commit_due()

    async def _commit_due(self) -> None:
        if time.monotonic() - self.last_commit >= _COMMIT_EVERY_S:
            await self.commit()

    async def commit(self) -> None:
        assert self.consumer is not None
        self.last_commit = time.monotonic()
        offsets = self.tracker.committable()
        if not offsets:
            return
        try:
            await self.consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
        except KafkaError as exc:
            raise self.owner._kafka_down(exc) from exc
        self.tracker.mark_committed(offsets)

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) until every publish in flight is confirmed or failed."""
        deadline = time.monotonic() + timeout
        while self.tracker.in_flight and self.failure is None and time.monotonic() < deadline:
            self.progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.progress.wait(), 0.5)

    async def final_commit(self) -> None:
        """On the way out, keep what was confirmed: fewer repeats after a restart."""
        try:
            await self.drain(3)
            await asyncio.wait_for(self.commit(), 5)
        except Exception:
            pass


class _Revoked(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before giving partitions away, finish and commit what was published from them, so
    the next owner starts after it instead of publishing it again."""

    def __init__(self, run: _Run) -> None:
        self.run = run

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if self.run.channel is None:
            return
        await self.run.drain(10)
        try:
            await self.run.commit()
        except Unavailable:
            log.warning("bridge out: could not commit before a rebalance; records may repeat")
        self.run.tracker.forget(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None
