"""In: queue ``rank_update`` -> scores topic; invalid messages -> ``rank_update.dlq``.

One session = one Kafka producer + one AMQP connection. Messages are read in delivery
order and handed on without waiting (Kafka batches them); a second task waits for each
outcome in the same order and acks the message only then:

- valid: after Kafka acknowledged the record (acks=all);
- invalid: after RabbitMQ confirmed the copy in the DLQ, with the reason in its headers.

So an invalid message is acked, never rejected with requeue: it cannot loop. When Kafka
or RabbitMQ fails, the session ends and the connection closes; RabbitMQ puts every
unacked message back in the queue and the next session reads it again. Such a redelivery
reaches Kafka twice at most, which the worker's dedup by (board, event_id) absorbs.
The prefetch bounds how many messages one session holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import aiormq
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from pamqp.commands import Basic

from streams.apps.bridge.amqp import (
    close_quietly,
    closed_watch,
    connect,
    declare_input_queue,
    rabbit_down,
)
from streams.apps.bridge.kafka import kafka_down, start_bounded, stop_quietly
from streams.apps.bridge.metrics import BridgeMetrics
from streams.apps.bridge.supervisor import Unavailable
from streams.apps.bridge.translate import DeadLetter, dead_letter_headers, translate
from streams.runtime.kafka_clients import kafka_options
from streams.runtime.settings import Settings

__all__ = ["Inbound"]

log = logging.getLogger("rankstream.bridge")

#: How long Kafka may take to acknowledge a record before the session gives up on it.
_KAFKA_TIMEOUT_MS = 10_000
#: Most messages settled by one ``multiple`` ack.
_MAX_ACK_RUN = 1000


@dataclass(slots=True)
class _Pending:
    message: AbstractIncomingMessage
    outcome: asyncio.Future[object]
    reason: str | None  # None: forwarded to Kafka; else the dead-letter reason


class Inbound:
    def __init__(self, settings: Settings, metrics: BridgeMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.kafka_options = kafka_options(settings)  # may raise SecuritySettingError

    def _kafka_down(self, cause: BaseException | str) -> Unavailable:
        return kafka_down(self.settings.kafka_bootstrap, cause)

    async def session(self, connected: Callable[[], None]) -> None:
        s = self.settings
        # Kafka first: consuming while Kafka is down would only pile up unacked messages.
        producer = AIOKafkaProducer(
            **self.kafka_options,
            acks="all",
            linger_ms=s.producer_linger_ms,
            request_timeout_ms=_KAFKA_TIMEOUT_MS,
            client_id="rankstream-bridge-in",
        )
        await start_bounded(producer, s)
        connection = None
        try:
            connection = await connect(s, "rankstream-bridge-in")
            try:
                channel = await connection.channel(publisher_confirms=True)
                await channel.set_qos(prefetch_count=s.bridge_prefetch)
                queue = await declare_input_queue(channel, s.bridge_queue, s.bridge_queue_mode)
                await channel.declare_queue(s.bridge_dlq, durable=True)
                underlay = await channel.get_underlay_channel()
            except aiormq.exceptions.AMQPConnectionError as exc:
                raise rabbit_down(s.rabbitmq_url, exc) from exc
            connected()
            log.info(
                "bridge in: consuming %s (%s mode, prefetch %d) into Kafka topic %s",
                s.bridge_queue,
                s.bridge_queue_mode,
                s.bridge_prefetch,
                s.scores_topic,
            )
            pending = _Fifo()
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._read(queue, producer, underlay, pending))
                    tasks.create_task(self._ack_in_order(pending))
                    tasks.create_task(closed_watch(connection, s.rabbitmq_url))
            except* Unavailable as group:
                raise group.exceptions[0] from None
        finally:
            await close_quietly(connection)
            await stop_quietly(producer)

    async def _read(
        self,
        queue: AbstractQueue,
        producer: AIOKafkaProducer,
        underlay: aiormq.abc.AbstractChannel,
        pending: _Fifo,
    ) -> None:
        s = self.settings
        async with queue.iterator() as messages:
            async for message in messages:
                decision = translate(message.body, message.message_id)
                outcome: asyncio.Future[object]
                if isinstance(decision, DeadLetter):
                    props = aiormq.spec.Basic.Properties(
                        delivery_mode=2,
                        headers=dead_letter_headers(decision, s.bridge_queue),  # type: ignore[arg-type]
                        message_id=message.message_id,
                        content_type=message.content_type,
                        timestamp=message.timestamp,
                    )
                    outcome = asyncio.ensure_future(
                        underlay.basic_publish(
                            message.body, exchange="", routing_key=s.bridge_dlq, properties=props
                        )
                    )
                    pending.put(_Pending(message, outcome, decision.reason))
                    continue
                try:
                    outcome = await producer.send(s.scores_topic, decision.value, key=decision.key)
                except KafkaError as exc:
                    raise self._kafka_down(exc) from exc
                pending.put(_Pending(message, outcome, None))
        raise rabbit_down(s.rabbitmq_url, "the consumer was cancelled or its channel closed")

    async def _ack_in_order(self, pending: _Fifo) -> None:
        """Ack each message once its outcome is in, in delivery order.

        A run of messages whose outcomes are all in is acked with one ``multiple`` ack of
        the last one: delivery tags grow in delivery order and every earlier message of
        the channel is settled by then. One frame per run instead of per message matters:
        a socket write per ack was the path's main cost.
        """
        while True:
            item = await pending.get()
            done = [await self._settled(item)]
            while len(done) < _MAX_ACK_RUN and pending.head_done():
                done.append(await self._settled(pending.pop()))
            try:
                await done[-1].message.ack(multiple=True)
            except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
                raise rabbit_down(self.settings.rabbitmq_url, exc) from exc
            for settled in done:
                if settled.reason is None:
                    self.metrics.messages_in.inc()
                else:
                    self.metrics.dead_lettered.labels(reason=settled.reason).inc()

    async def _settled(self, item: _Pending) -> _Pending:
        """The item, once Kafka (or, for a dead letter, RabbitMQ) confirmed it."""
        try:
            result = await item.outcome
        except KafkaError as exc:
            raise self._kafka_down(exc) from exc
        except (aiormq.exceptions.AMQPError, ConnectionError) as exc:
            raise rabbit_down(self.settings.rabbitmq_url, exc) from exc
        if item.reason is not None and not isinstance(result, Basic.Ack):
            raise rabbit_down(
                self.settings.rabbitmq_url, f"the DLQ publish was not confirmed ({result})"
            )
        return item


class _Fifo:
    """Messages in delivery order, with a look at whether the oldest one is settled."""

    def __init__(self) -> None:
        self._items: deque[_Pending] = deque()
        self._added = asyncio.Event()

    def put(self, item: _Pending) -> None:
        self._items.append(item)
        self._added.set()

    async def get(self) -> _Pending:
        while not self._items:
            self._added.clear()
            await self._added.wait()
        return self._items.popleft()

    def head_done(self) -> bool:
        return bool(self._items) and self._items[0].outcome.done()

    def pop(self) -> _Pending:
        return self._items.popleft()
