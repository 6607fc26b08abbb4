"""Publishing to and reading from RabbitMQ in the bridge tests (pika, as the legacy
services use it)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pika


@dataclass
class Got:
    routing_key: str
    body: bytes
    headers: dict[str, Any]
    message_id: str | None

    def json(self) -> Any:
        return json.loads(self.body)


def snippet(queue: str, messages: Iterable[bytes], *, durable: bool = False) -> None:
    """The producer code of the issue, as is, with the queue name as a parameter."""
    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
    channel = connection.channel()
    if durable:
        channel.queue_declare(queue=queue, durable=True)
    else:
        channel.queue_declare(queue=queue)
    for message in messages:
        channel.basic_publish(exchange="", routing_key=queue, body=message)
    connection.close()


def publish(queue: str, messages: Iterable[tuple[bytes, pika.BasicProperties | None]]) -> None:
    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
    channel = connection.channel()
    channel.confirm_delivery()
    for body, props in messages:
        channel.basic_publish(exchange="", routing_key=queue, body=body, properties=props)
    connection.close()


def bind(exchange: str, pattern: str, queue: str) -> None:
    """A durable queue bound to the bridge's exchange (declared as the bridge does)."""
    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
    channel = connection.channel()
    channel.exchange_declare(exchange, "topic", durable=True)
    channel.queue_declare(queue, durable=True)
    channel.queue_bind(queue, exchange, routing_key=pattern)
    connection.close()


def delete_queues(*queues: str) -> None:
    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
    channel = connection.channel()
    for queue in queues:
        channel.queue_delete(queue)
    connection.close()


def collect(
    queue: str,
    done: Callable[[list[Got]], bool],
    timeout: float = 120,
    got: list[Got] | None = None,
) -> list[Got]:
    """Read (and ack) messages until ``done`` or the timeout; survives broker restarts.

    ``done`` is checked whenever the queue pauses or every 2,000 messages, not per
    message: folding thousands of records per message would be quadratic."""
    got = [] if got is None else got
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done(got):
        try:
            connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
        except pika.exceptions.AMQPError:
            time.sleep(0.5)
            continue
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=2000)
            unchecked = 0
            for method, props, body in channel.consume(queue, inactivity_timeout=0.3):
                if method is not None:
                    got.append(
                        Got(method.routing_key, body, dict(props.headers or {}), props.message_id)
                    )
                    channel.basic_ack(method.delivery_tag)
                    unchecked += 1
                    if unchecked < 2000:
                        continue
                unchecked = 0
                if time.monotonic() > deadline or done(got):
                    break
            channel.cancel()
        except pika.exceptions.AMQPError:
            time.sleep(0.5)
        finally:
            if connection.is_open:
                connection.close()
    return got


def publish_reliably(
    queue: str, lines: list[bytes], *, pause_s: float = 0.0, timeout: float = 120
) -> int:
    """Publish persistent messages with confirms, as a careful producer does in durable
    mode: after a connection loss, reconnect and re-send the unconfirmed message (a
    duplicate at worst). Returns the number of reconnections."""
    reconnects, index = 0, 0
    deadline = time.monotonic() + timeout
    props = pika.BasicProperties(delivery_mode=2)
    while index < len(lines):
        if time.monotonic() > deadline:
            raise TimeoutError(f"published {index} of {len(lines)} messages")
        try:
            connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
        except pika.exceptions.AMQPError:
            time.sleep(0.5)
            continue
        try:
            channel = connection.channel()
            channel.queue_declare(queue=queue, durable=True)
            channel.confirm_delivery()
            while index < len(lines):
                channel.basic_publish("", queue, lines[index], props, mandatory=True)
                index += 1
                if pause_s:
                    connection.sleep(pause_s)
            connection.close()
        except (pika.exceptions.AMQPError, OSError):
            reconnects += 1
            time.sleep(0.5)
    return reconnects


def queue_depth(queue: str) -> int:
    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        if connection.is_open:
            connection.close()
