"""Starting and stopping the bridge's Kafka clients so that a broker that is down, or up
but not ready, becomes an :class:`~streams.apps.bridge.supervisor.Unavailable` (retried with
backoff) instead of a hang."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka.errors import KafkaError  # type: ignore[import-untyped]

from streams.apps.bridge.supervisor import BridgeConfigError, Unavailable
from streams.runtime.kafka_clients import SecuritySettingError, check_kafka
from streams.runtime.settings import Settings

#: Longest wait for a Kafka client to start (bootstrap, metadata, group join).
START_TIMEOUT_S = 30


def kafka_down(bootstrap: str, cause: BaseException | str) -> Unavailable:
    return Unavailable(f"Kafka at {bootstrap}", "kafka", cause)


async def start_bounded(client: Any, settings: Settings) -> None:
    """Start an aiokafka producer or consumer, bounded: against a broker that accepts
    connections but is not ready yet, aiokafka's ``start()`` can wait forever. A failure
    of the connection's TLS or login (:func:`~streams.runtime.kafka_clients.check_kafka`) is a
    :class:`BridgeConfigError` naming the setting; anything else is retried."""
    try:
        await asyncio.wait_for(client.start(), START_TIMEOUT_S)
    except BaseException as exc:  # cancellation too: never leave a half-started client
        await stop_quietly(client)
        if isinstance(exc, KafkaError | TimeoutError):
            try:
                await check_kafka(settings)
            except SecuritySettingError as problem:
                raise BridgeConfigError(str(problem)) from None
            cause = exc if isinstance(exc, KafkaError) else "start timed out"
            raise kafka_down(settings.kafka_bootstrap, cause) from exc
        raise


async def stop_quietly(client: Any) -> None:
    """Stop without hanging on a dead broker: what was not acknowledged is redelivered."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.stop(), 5)
