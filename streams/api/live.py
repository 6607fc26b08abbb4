"""Server-sent events for the live page: every worker reads the push topic itself (no
consumer group, from the end, read_committed) and fans each record out to the browsers
watching that board. Nothing is forwarded between workers; every worker sees every board.

Each browser gets a bounded queue; one that falls behind is disconnected (its EventSource
reconnects and the page re-reads the standings), so a slow client never grows the worker's
memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]

from ..settings import Settings

log = logging.getLogger(__name__)
QUEUE_MAX = 2000
HEARTBEAT_S = 15.0


class Hub:
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[bytes | None]]] = {}

    @property
    def clients(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def subscribe(self, board: str) -> asyncio.Queue[bytes | None]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_MAX)
        self._queues.setdefault(board, set()).add(queue)
        return queue

    def unsubscribe(self, board: str, queue: asyncio.Queue[bytes | None]) -> None:
        queues = self._queues.get(board)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._queues[board]

    def publish(self, board: str, payload: bytes) -> None:
        for queue in list(self._queues.get(board, ())):
            try:
                queue.put_nowait(payload)
            except asyncio.QueueFull:
                self.unsubscribe(board, queue)
                queue.get_nowait()  # make room for the end marker
                queue.put_nowait(None)


async def run_push_consumer(settings: Settings, hub: Hub) -> None:
    """Forever: read the push topic and publish each record to its board's watchers."""
    while True:
        consumer = AIOKafkaConsumer(
            settings.changes_topic,
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=None,
            auto_offset_reset="latest",
            isolation_level="read_committed",
            enable_auto_commit=False,
            metadata_max_age_ms=5000,  # notice the topic soon when the worker creates it
        )
        try:
            await consumer.start()
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                for messages in batches.values():
                    for message in messages:
                        if message.key and message.value:
                            hub.publish(message.key.decode(errors="replace"), message.value)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("live: push topic consumer failed; restarting in 2 s")
            await asyncio.sleep(2)
        finally:
            await consumer.stop()


async def sse_response(request: Any, hub: Hub, board: str) -> web.StreamResponse:
    """``text/event-stream`` of the board's push records, one ``data:`` line each."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue = hub.subscribe(board)
    try:
        await response.write(b"retry: 2000\n: connected\n\n")
        while True:
            try:
                payload = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            if payload is None:  # fell behind: the browser reconnects and re-reads
                break
            # Records are compact single-line JSON; re-encode anything else defensively.
            if b"\n" in payload:
                payload = json.dumps(json.loads(payload)).encode()
            await response.write(b"data: " + payload + b"\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.unsubscribe(board, queue)
    return response
