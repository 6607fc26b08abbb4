"""``rankstream worker`` with one fault: faust loses one record it fetched before the agent
sees it, the way its fetch loop and queues lost records around rebalances.

    python -m tests.integration.lossy_worker

``LOSSY_TOPIC`` names the faust agent's input topic after the app id
(``scores-by-board``) and ``LOSSY_OFFSET`` the first offset of partition 0 that may be
lost; the first record there with a non-zero score is dropped, once, after faust's fetch
loop took it (it counts as read: faust never delivers it again by itself). With
``LOSSY_EVENT`` instead, the record holding that event id is the one lost (a test's last
record: a tail).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import faust

import streams.apps.worker
from streams.apps.cli import main
from streams.edge.wire import decode_events
from streams.engine.config import BoardsConfig
from streams.runtime.settings import Settings

_create_app = streams.apps.worker.create_app


def _score(value: bytes) -> int:
    return max((abs(event.score) for event in decode_events(value)), default=0)


def _event_ids(value: bytes) -> set[str]:
    return {event.event_id for event in decode_events(value)}


def create_app(settings: Settings, boards: BoardsConfig | None = None) -> faust.App:
    app = _create_app(settings, boards)
    topic = f"{settings.app_id}-{os.environ['LOSSY_TOPIC']}"
    first = int(os.environ.get("LOSSY_OFFSET", "0"))
    event = os.environ.get("LOSSY_EVENT")
    deliver: Callable[[Any], Awaitable[None]] = app.topics.on_message  # type: ignore[attr-defined]
    lost: list[int] = []

    def chosen(message: Any) -> bool:
        if event is not None:
            return event in _event_ids(message.value)
        at = message.partition == 0 and message.offset >= first
        return at and bool(_score(message.value))

    async def on_message(message: Any) -> None:
        if not lost and message.topic == topic and chosen(message):
            lost.append(message.offset)
            print(f"lossy_worker: lost {topic}[{message.partition}]@{message.offset}", flush=True)
            return
        await deliver(message)

    app.topics.on_message = on_message  # type: ignore[attr-defined]
    return app


if __name__ == "__main__":
    streams.apps.worker.create_app = create_app
    sys.exit(main(["worker"]))
