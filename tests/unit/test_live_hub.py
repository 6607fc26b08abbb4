"""The live page's hub: who watches decides whether the push topic is read at all."""

from __future__ import annotations

import asyncio

from streams.apps.api.live import QUEUE_MAX, Hub


def test_watched_while_any_board_has_a_watcher() -> None:
    async def scenario() -> list[bool]:
        hub = Hub()
        seen = [hub.watched.is_set()]
        arena = hub.subscribe("arena")
        likes = hub.subscribe("likes")
        seen.append(hub.watched.is_set())
        hub.unsubscribe("arena", arena)
        seen.append(hub.watched.is_set())
        hub.unsubscribe("likes", likes)
        seen.append(hub.watched.is_set())
        return seen

    assert asyncio.run(scenario()) == [False, True, True, False]


def test_a_watcher_that_falls_behind_is_dropped_with_an_end_marker() -> None:
    async def scenario() -> tuple[bool, int, bytes | None]:
        hub = Hub()
        slow = hub.subscribe("arena")
        for n in range(QUEUE_MAX + 1):
            hub.publish("arena", b"%d" % n)
        last = None
        while not slow.empty():
            last = slow.get_nowait()
        return hub.watched.is_set(), hub.clients, last

    assert asyncio.run(scenario()) == (False, 0, None)


def test_records_reach_only_their_boards_watchers() -> None:
    async def scenario() -> tuple[list[bytes], int]:
        hub = Hub()
        arena = hub.subscribe("arena")
        likes = hub.subscribe("likes")
        hub.publish("arena", b"a1")
        hub.publish("other", b"o1")
        hub.publish("arena", b"a2")
        return [arena.get_nowait(), arena.get_nowait()], likes.qsize()

    assert asyncio.run(scenario()) == ([b"a1", b"a2"], 0)
