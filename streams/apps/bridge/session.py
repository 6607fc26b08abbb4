"""The frame both bridge paths run a session in: one Kafka client and one AMQP connection.

Invariants of every session:

* Kafka is started first: while it is down, reading RabbitMQ would only pile up unacked
  messages (in) or leave nothing to publish (out).
* Every failure of a broker leaves the session as :class:`Unavailable`; the client and
  the connection are always closed, whichever way the session ends, so the supervisor's
  next session starts from nothing half-alive.
* The work of a session runs beside a watch of its connection: when RabbitMQ closes it,
  the session ends at once instead of waiting for the next read or publish to notice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiormq
from aio_pika.abc import AbstractConnection

from streams.apps.bridge.amqp import close_quietly, closed_watch, connect, rabbit_down
from streams.apps.bridge.kafka import kafka_down, start_bounded, stop_quietly
from streams.apps.bridge.metrics import BridgeMetrics
from streams.apps.bridge.supervisor import Unavailable
from streams.runtime.kafka_clients import kafka_options
from streams.runtime.settings import Settings

__all__ = ["BridgePath"]


class BridgePath:
    """What a path needs across its sessions: the settings, the metrics and the Kafka
    clients' options (built once: a certificate that cannot be used fails at start)."""

    def __init__(self, settings: Settings, metrics: BridgeMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.kafka_options = kafka_options(settings)  # may raise SecuritySettingError

    def _kafka_down(self, cause: BaseException | str) -> Unavailable:
        return kafka_down(self.settings.kafka_bootstrap, cause)

    def _rabbit_down(self, cause: BaseException | str) -> Unavailable:
        return rabbit_down(self.settings.rabbitmq_url, cause)

    @asynccontextmanager
    async def _opened(self, client: Any, name: str) -> AsyncIterator[AbstractConnection]:
        """Start the Kafka ``client``, then connect to RabbitMQ as ``name``; both are
        closed on the way out."""
        await start_bounded(client, self.settings)
        connection = None
        try:
            connection = await connect(self.settings, name)
            yield connection
        finally:
            await close_quietly(connection)
            await stop_quietly(client)

    @contextmanager
    def _declaring(self) -> Iterator[None]:
        """Opening a channel and declaring on it: a lost connection is :class:`Unavailable`."""
        try:
            yield
        except aiormq.exceptions.AMQPConnectionError as exc:
            raise self._rabbit_down(exc) from exc

    async def _until_closed(
        self, connection: AbstractConnection, *work: Coroutine[Any, Any, None]
    ) -> None:
        """Run ``work`` until one of it fails or the connection closes; raise the first
        :class:`Unavailable`."""
        try:
            async with asyncio.TaskGroup() as tasks:
                for job in work:
                    tasks.create_task(job)
                tasks.create_task(closed_watch(connection, self.settings.rabbitmq_url))
        except* Unavailable as group:
            raise group.exceptions[0] from None
