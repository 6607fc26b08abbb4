"""Publish a batch of messages on a confirm-mode channel in one socket write.

aiormq's ``basic_publish`` writes every message with its own socket write, and a write
costs more than everything else a message needs (docs/bridge.md, Performance). This does
what ``basic_publish`` does for each message, under the channel's lock so the delivery tags
match the frame order, but hands the frames of the whole batch to the connection's writer
as one chunk. It relies on aiormq's channel internals (``lock``, ``delivery_tag``,
``confirmations``, ``write_queue``), pinned by the ``aiormq`` range that aio-pika brings;
the bridge's integration tests exercise it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aiormq
from aiormq.abc import ChannelFrame
from pamqp import commands as spec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

__all__ = ["publish_many"]


async def publish_many(
    channel: aiormq.abc.AbstractChannel,
    exchange: str,
    messages: Sequence[tuple[bytes, str, spec.Basic.Properties]],
) -> list[asyncio.Future[Any]]:
    """Publish ``(body, routing_key, properties)`` in order; one confirmation future each
    (resolved with ``Basic.Ack`` or ``Basic.Nack``, failed when the channel closes)."""
    ch: Any = channel  # the concrete aiormq.Channel; its internals are not in the ABC
    if not ch.publisher_confirms:
        raise ValueError("publish_many needs a channel in confirm mode")
    frames: list[Any] = []
    futures: list[asyncio.Future[Any]] = []
    async with ch.lock:
        if ch.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError(f"{ch!r} closed")
        for body, routing_key, properties in messages:
            ch.delivery_tag += 1
            future = ch.create_future()
            ch.confirmations[ch.delivery_tag] = future
            futures.append(future)
            frames.append(spec.Basic.Publish(exchange=exchange, routing_key=routing_key))
            frames.append(ContentHeader(properties=properties, body_size=len(body)))
            parts: list[ContentBody] = ch._split_body(body)
            frames.extend(parts)
        await ch.write_queue.put(ChannelFrame.marshall(channel_number=ch.number, frames=frames))
    return futures
