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

from streams.apps.bridge.amqp import declare_input_queue
from streams.apps.bridge.session import BridgePath
from streams.apps.bridge.translate import DeadLetter, dead_letter_headers, translate

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


class Inbound(BridgePath):
    async def session(self, connected: Callable[[], None]) -> None:
        s = self.settings
        producer = AIOKafkaProducer(
            **self.kafka_options,
            acks="all",
            linger_ms=s.producer_linger_ms,
            request_timeout_ms=_KAFKA_TIMEOUT_MS,
            client_id="rankstream-bridge-in",
        )
        async with self._opened(producer, "rankstream-bridge-in") as connection:
            with self._declaring():
                channel = await connection.channel(publisher_confirms=True)
                await channel.set_qos(prefetch_count=s.bridge_prefetch)
                queue = await declare_input_queue(channel, s.bridge_queue, s.bridge_queue_mode)
                await channel.declare_queue(s.bridge_dlq, durable=True)
                underlay = await channel.get_underlay_channel()
            connected()
            log.info(
                "bridge in: consuming %s (%s mode, prefetch %d) into Kafka topic %s",
                s.bridge_queue,
                s.bridge_queue_mode,
                s.bridge_prefetch,
                s.scores_topic,
            )
            pending = _Fifo()
            await self._until_closed(
                connection,
                self._read(queue, producer, underlay, pending),
                self._ack_in_order(pending),
            )

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
        raise self._rabbit_down("the consumer was cancelled or its channel closed")

    async def _ack_in_order(self, pending: _Fifo) -> None:
        """Ack each message once its outcome is in, in delivery order.

        A run of messages whose outcomes are all in is acked with one ``multiple`` ack of
        the last one: delivery tags grow in delivery order and every earlier message of
        the channel is settled by then. One frame per run, not per message, because a
        socket write costs more than the rest of a message's handling (docs/bridge.md,
        Performance).
        """
        while True:
            item = await pending.get()
            done = [await self._settled(item)]
            while len(done) < _MAX_ACK_RUN and pending.head_done():
                done.append(await self._settled(pending.pop()))
            try:
                await done[-1].message.ack(multiple=True)
            except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
                raise self._rabbit_down(exc) from exc
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
            raise self._rabbit_down(exc) from exc
        if item.reason is not None and not isinstance(result, Basic.Ack):
            raise self._rabbit_down(f"the DLQ publish was not confirmed ({result})")
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
