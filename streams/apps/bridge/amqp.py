"""RabbitMQ connection and declarations shared by both paths (aio-pika)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue

from streams.apps.bridge.supervisor import BridgeConfigError, Unavailable
from streams.runtime.kafka_clients import (
    SecuritySettingError,
    amqp_ssl_context,
    explain_rabbitmq_failure,
)
from streams.runtime.settings import Settings, redact_url

__all__ = ["close_quietly", "closed_watch", "connect", "declare_input_queue", "rabbit_down"]

_CONNECT_TIMEOUT_S = 10


def rabbit_down(url: str, cause: BaseException | str) -> Unavailable:
    return Unavailable(f"RabbitMQ at {redact_url(url)}", "rabbitmq", cause)


async def connect(settings: Settings, name: str) -> AbstractConnection:
    """A plain (not robust) connection: the supervisor owns reconnection, so that every
    reconnect also resets the Kafka side and no half-alive state survives. TLS for
    ``amqps://`` URLs (:func:`~streams.runtime.kafka_clients.amqp_ssl_context`); a refused login or
    certificate is a :class:`BridgeConfigError` naming the setting, which no retry fixes."""
    url = settings.rabbitmq_url
    try:
        context = amqp_ssl_context(settings)
    except SecuritySettingError as exc:
        raise BridgeConfigError(str(exc)) from None
    try:
        return await aio_pika.connect(
            url,
            timeout=_CONNECT_TIMEOUT_S,
            client_properties={"connection_name": name},
            ssl_context=context,
        )
    except (aio_pika.exceptions.AMQPError, OSError, TimeoutError) as exc:
        reason = explain_rabbitmq_failure(settings, exc)
        if reason is not None:
            raise BridgeConfigError(reason) from None
        raise rabbit_down(url, exc) from exc


async def closed_watch(connection: AbstractConnection, url: str) -> None:
    """Return never; raise :class:`Unavailable` once the connection closes."""
    closed = asyncio.Event()
    connection.close_callbacks.add(lambda *_: closed.set())
    if connection.is_closed:
        closed.set()
    await closed.wait()
    raise rabbit_down(url, "connection closed")


async def declare_input_queue(
    channel: AbstractChannel, name: str, mode: Literal["durable", "legacy"]
) -> AbstractQueue:
    """Declare the input queue with no arguments, as the producers' own declaration does.

    Any argument (a dead-letter exchange, a queue type) would make the producers'
    ``queue_declare`` fail with PRECONDITION_FAILED, so dead-lettering is done by the
    bridge itself and the queue differs between modes only in ``durable``.
    """
    try:
        return await channel.declare_queue(
            name, durable=mode == "durable", auto_delete=False, exclusive=False
        )
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        other = "non-durable" if mode == "durable" else "durable"
        raise BridgeConfigError(
            f"queue {name!r} already exists with other properties ({exc}); it is probably "
            f"{other}, while RANKSTREAM_BRIDGE_QUEUE_MODE={mode} declares it "
            f"{'durable' if mode == 'durable' else 'non-durable'}. Use the mode the queue "
            f"was made for, or delete it first (rabbitmqctl delete_queue {name}; its "
            "messages are lost)"
        ) from exc


async def close_quietly(connection: AbstractConnection | None) -> None:
    if connection is None or connection.is_closed:
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(connection.close(), 5)
