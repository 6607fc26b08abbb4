"""The query API's handlers (streams/apps/api/routes.py) over a fake
:class:`~streams.apps.api.cluster.Cluster`, on a loopback aiohttp server without faust: a
board is answered from the engine the cluster names, by this worker only while it is
ready, and a board owned by nobody or by a worker that is not there is 409 unavailable."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from schemas.timefmt import parse_rfc3339_ms
from streams.apps.api.errors import json_errors
from streams.apps.api.forwarding import Forwarder
from streams.apps.api.live import Hub
from streams.apps.api.openapi import OPERATIONS
from streams.apps.api.routes import Api, routes
from streams.engine.config import BoardConfig, BoardsConfig
from streams.engine.core import Engine
from streams.engine.events import ScoreEvent
from streams.engine.storage import MemoryStore
from streams.runtime.ranker import Counts

NOW = parse_rfc3339_ms("2026-12-31T12:00:00Z")


class FakeCluster:
    """Owns the boards of ``engines`` (one engine each); the others belong to ``owner``."""

    def __init__(self, engines: dict[str, Engine], ready: bool, owner: str | None) -> None:
        self._engines = engines
        self._ready = ready
        self._owner = owner

    def ready(self) -> bool:
        return self._ready

    def owns(self, board: str) -> bool:
        return board in self._engines

    def engine(self, board: str) -> Engine | None:
        return self._engines.get(board) if self._ready else None

    def engines(self) -> list[Engine]:
        return list(self._engines.values()) if self._ready else []

    def own_url(self) -> str:
        return "http://127.0.0.1:1"

    def owner_url(self, board: str) -> str | None:
        return None if self.owns(board) else self._owner

    def peers(self) -> list[str]:
        return []


class FakeStats:
    counts = Counts()

    def rocksdb_memory(self) -> Mapping[str, int]:
        return {}


def engine_with(config: BoardsConfig, board: str, scores: dict[str, int]) -> Engine:
    engine = Engine(config, MemoryStore(), lambda: NOW)
    for n, (user, score) in enumerate(scores.items()):
        engine.apply(ScoreEvent(f"e{n}", board, user, score, NOW - 1000))
    return engine


CONFIG = BoardsConfig(boards={"arena": BoardConfig(), "race": BoardConfig()})


def serve(
    cluster: FakeCluster,
    check: Callable[[TestClient[web.Request, web.Application]], Awaitable[None]],
) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            forwarder = Forwarder(cluster, lambda: session)
            api = Api(cluster, FakeStats(), CONFIG, Hub(), forwarder, lambda: NOW)
            app = web.Application(middlewares=[json_errors])
            for path, handler in routes(api):
                app.router.add_get(path, handler)
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                await check(client)

    asyncio.run(main())


def test_every_operation_has_its_route() -> None:
    cluster = FakeCluster({}, ready=True, owner=None)
    forwarder = Forwarder(cluster, aiohttp.ClientSession)
    api = Api(cluster, FakeStats(), CONFIG, Hub(), forwarder, lambda: NOW)
    paths = [path for path, _ in routes(api)]
    assert {op.path for op in OPERATIONS} <= set(paths)
    assert len(paths) == len(set(paths))


def test_an_owned_board_is_answered_from_its_engine() -> None:
    engine = engine_with(CONFIG, "arena", {"ann": 5, "bob": 9, "cid": 7})
    cluster = FakeCluster({"arena": engine}, ready=True, owner=None)

    async def check(client: Any) -> None:
        response = await client.get("/boards/arena/all?limit=2")
        body = await response.json()
        assert response.status == 200, body
        assert [(e["rank"], e["user"], e["score"]) for e in body["entries"]] == [
            (1, "bob", 9),
            (2, "cid", 7),
        ]
        assert body["size"] == 3
        response = await client.get("/boards?scope=local")
        assert [b["board"] for b in (await response.json())["boards"]] == ["arena"]
        assert (await client.get("/healthz")).status == 200

    serve(cluster, check)


@pytest.mark.parametrize(
    ("owned", "ready", "owner", "path", "message"),
    [
        (True, False, None, "/boards/arena/all", "moving or recovering"),
        (False, True, None, "/boards/arena/all", "no worker owns this board yet"),
        (False, True, "http://127.0.0.1:1", "/boards/arena/all", "no worker owns"),
    ],
    ids=["recovering", "no-owner", "owner-is-self"],
)
def test_a_board_not_answerable_here_is_409_with_retry_after(
    owned: bool, ready: bool, owner: str | None, path: str, message: str
) -> None:
    engines = {"arena": engine_with(CONFIG, "arena", {"ann": 1})} if owned else {}
    cluster = FakeCluster(engines, ready=ready, owner=owner)

    async def check(client: Any) -> None:
        response = await client.get(path)
        body = await response.json()
        assert (response.status, body["error"]) == (409, "unavailable"), body
        assert message in body["message"]
        assert response.headers["Retry-After"] == "1"

    serve(cluster, check)


def test_a_worker_not_ready_says_so_and_lists_no_local_board() -> None:
    engine = engine_with(CONFIG, "arena", {"ann": 1})
    cluster = FakeCluster({"arena": engine}, ready=False, owner=None)

    async def check(client: Any) -> None:
        response = await client.get("/healthz")
        assert response.status == 409 and response.headers["Retry-After"] == "1"
        assert await response.json() == {"status": "recovering", "ready": False}
        response = await client.get("/boards?scope=local")
        assert (await response.json())["boards"] == []
        # the whole list still names the configured boards, from configuration alone
        response = await client.get("/boards")
        assert [b["board"] for b in (await response.json())["boards"]] == ["arena", "race"]

    serve(cluster, check)
