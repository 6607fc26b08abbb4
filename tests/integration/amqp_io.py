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
    """Read (and ack) messages until ``done`` or the timeout; survives broker restarts."""
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
            while time.monotonic() < deadline and not done(got):
                method, props, body = channel.basic_get(queue)
                if method is None:
                    connection.sleep(0.2)
                    continue
                got.append(
                    Got(method.routing_key, body, dict(props.headers or {}), props.message_id)
                )
                channel.basic_ack(method.delivery_tag)
        except pika.exceptions.AMQPError:
            time.sleep(0.5)
        finally:
            if connection.is_open:
                connection.close()
    return got
