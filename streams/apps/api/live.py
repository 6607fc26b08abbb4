"""Server-sent events for the live page: every worker reads the push topic itself (no
consumer group, ``read_committed``) and fans each record out to the browsers watching that
board. Nothing is forwarded between workers; every worker sees every board.

Invariants:

* The push topic is read only while somebody watches, and for ``IDLE_S`` after the last
  one left (a page reload does not restart the reader): an unwatched worker spends nothing
  on the job's whole output (measured in ``bench/README.md``, "The live page's reader").
* A reader that starts goes back ``REWIND_S`` on the record timestamps, so the records
  written while it started reach the first watcher too; the page treats changes as
  absolute, so a record seen twice is harmless.
* Each browser has a bounded queue (``QUEUE_MAX``); one that falls behind is disconnected
  (its EventSource reconnects and the page re-reads the standings), so a slow client never
  grows the worker's memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

from streams.runtime.kafka_clients import kafka_options
from streams.runtime.settings import Settings
from streams.runtime.topics import led_partitions

log = logging.getLogger(__name__)
QUEUE_MAX = 2000
HEARTBEAT_S = 15.0
IDLE_S = 60.0
REWIND_S = 5.0


class Hub:
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[bytes | None]]] = {}
        self.watched = asyncio.Event()  # set while at least one browser is connected

    @property
    def clients(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def subscribe(self, board: str) -> asyncio.Queue[bytes | None]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_MAX)
        self._queues.setdefault(board, set()).add(queue)
        self.watched.set()
        return queue

    def unsubscribe(self, board: str, queue: asyncio.Queue[bytes | None]) -> None:
        queues = self._queues.get(board)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._queues[board]
        if not self._queues:
            self.watched.clear()

    def publish(self, board: str, payload: bytes) -> None:
        for queue in list(self._queues.get(board, ())):
            try:
                queue.put_nowait(payload)
            except asyncio.QueueFull:
                self.unsubscribe(board, queue)
                queue.get_nowait()  # make room for the end marker
                queue.put_nowait(None)


async def run_push_consumer(settings: Settings, hub: Hub, idle_s: float = IDLE_S) -> None:
    """Forever: while browsers watch, read the push topic and publish each record to its
    board's watchers."""
    while True:
        await hub.watched.wait()
        try:
            await _follow(settings, hub, idle_s)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("live: push topic consumer failed; restarting in 2 s")
            await asyncio.sleep(2)


async def _follow(settings: Settings, hub: Hub, idle_s: float) -> None:
    """Read from ``REWIND_S`` ago until nobody has watched for ``idle_s``."""
    topic = settings.changes_topic
    consumer = AIOKafkaConsumer(
        **kafka_options(settings),
        group_id=None,
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    try:
        await consumer.start()
        partitions = [TopicPartition(topic, p) for p in await _partitions(settings)]
        consumer.assign(partitions)
        since = int((time.time() - REWIND_S) * 1000)
        found = await consumer.offsets_for_times(dict.fromkeys(partitions, since))
        for tp in partitions:
            at = found.get(tp)
            if at is None:
                await consumer.seek_to_end(tp)  # nothing written since: the end
            else:
                consumer.seek(tp, at.offset)
        log.info("live: reading %s for %d watcher(s)", topic, hub.clients)
        idle_since: float | None = None
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for messages in batches.values():
                for message in messages:
                    if message.key and message.value:
                        hub.publish(message.key.decode(errors="replace"), message.value)
            if hub.clients:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= idle_s:
                log.info("live: nobody watches; stopped reading %s", topic)
                return
    finally:
        await consumer.stop()


async def _partitions(settings: Settings) -> list[int]:
    """The push topic's partitions (a consumer that assigns them itself has no metadata of
    a topic until it asks for it, and has no public way to ask)."""
    admin = AIOKafkaAdminClient(**kafka_options(settings))
    await admin.start()
    try:
        [found] = await admin.describe_topics([settings.changes_topic])
    finally:
        await admin.close()
    partitions = led_partitions(found)
    if partitions is None:
        raise RuntimeError(f"topic {settings.changes_topic} is not there (yet): {found}")
    return partitions


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
