"""The JSON error middleware and forwarding to a board's owner (streams/apps/api/errors.py,
streams/apps/api/forwarding.py) on a loopback aiohttp server: unknown routes, other methods,
query errors and bugs are JSON; an owner that cannot answer, or answers 5xx, is a 409
unavailable with Retry-After, never a 5xx passed on."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.apps.api.errors import Unavailable, json_errors
from streams.apps.api.forwarding import ANSWERED_BY, FORWARDED, Forwarder
from streams.engine.query import QueryError


async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError("a bug")


async def _query_error(request: web.Request) -> web.Response:
    raise QueryError(404, "unknown_board", "board 'x' is not configured and has no data")


async def _unavailable(request: web.Request) -> web.Response:
    raise Unavailable("partition is moving; retry shortly")


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def errors_app() -> web.Application:
    app = web.Application(middlewares=[json_errors])
    app.router.add_get("/boom", _boom)
    app.router.add_get("/query", _query_error)
    app.router.add_get("/moving", _unavailable)
    app.router.add_get("/ok", _ok)
    return app


Check = Callable[[TestClient[Any, Any]], Awaitable[None]]


def with_client(app: web.Application, check: Check) -> None:
    async def main() -> None:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            await check(client)

    asyncio.run(main())


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "headers"),
    [
        ("GET", "/nowhere", 404, "not_found", {}),
        ("GET", "/ok/", 404, "not_found", {}),
        ("POST", "/ok", 405, "method_not_allowed", {"Allow": "GET,HEAD"}),
        ("DELETE", "/query", 405, "method_not_allowed", {}),
        ("GET", "/query", 404, "unknown_board", {}),
        ("GET", "/moving", 409, "unavailable", {"Retry-After": "1"}),
        ("GET", "/boom", 500, "internal", {}),
    ],
)
def test_every_error_is_json(
    method: str, path: str, status: int, code: str, headers: dict[str, str]
) -> None:
    async def check(client: TestClient[Any, Any]) -> None:
        response = await client.request(method, path)
        assert response.status == status
        assert response.content_type == "application/json"
        body = await response.json()
        assert (body["error"], body["status"]) == (code, status) and body["message"]
        for name, value in headers.items():
            got = response.headers.get(name, "")
            assert set(got.split(",")) >= set(value.split(",")), (name, got)

    with_client(errors_app(), check)


class FakeCluster:
    """The part of :class:`streams.apps.api.cluster.Cluster` that forwarding asks."""

    def __init__(self, owner: str | None, owned: bool = False) -> None:
        self.owner = owner
        self.owned = owned

    def owns(self, board: str) -> bool:
        return self.owned

    def owner_url(self, board: str) -> str | None:
        return self.owner

    def own_url(self) -> str:
        return "http://127.0.0.1:1"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def owner_app() -> web.Application:
    async def fine(request: web.Request) -> web.Response:
        assert request.headers.get(FORWARDED) == "1"
        return web.json_response({"board": "x"})

    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=500, text="Server got itself in trouble")

    async def moving(request: web.Request) -> web.Response:
        return web.json_response(
            {"error": "unavailable", "message": "moving", "status": 409},
            status=409,
            headers={"Retry-After": "3"},
        )

    app = web.Application()
    app.router.add_get("/fine", fine)
    app.router.add_get("/failing", failing)
    app.router.add_get("/moving", moving)
    return app


@pytest.mark.parametrize(
    ("owner", "path", "headers", "status", "expect"),
    [
        ("live", "/fine", {}, 200, {"board": "x"}),
        ("live", "/failing", {}, 409, "answered 500"),
        ("live", "/moving", {}, 409, {"Retry-After": "3"}),
        ("closed", "/fine", {}, 409, "did not answer"),
        (None, "/fine", {}, 409, "no worker owns this board yet"),
        ("live", "/fine", {FORWARDED: "1"}, 409, "partition is moving"),
    ],
)
def test_forwarding_never_passes_on_a_5xx(
    owner: str | None, path: str, headers: dict[str, str], status: int, expect: Any
) -> None:
    async def main() -> None:
        async with TestServer(owner_app(), host="127.0.0.1") as owner_server:
            urls = {
                "live": str(owner_server.make_url("")).rstrip("/"),
                "closed": f"http://127.0.0.1:{closed_port()}",
            }
            owner_url = None if owner is None else urls[owner]
            async with aiohttp.ClientSession() as session:
                cluster = FakeCluster(owner_url)
                forwarder = Forwarder(cluster, lambda: session)  # type: ignore[arg-type]

                async def front(request: web.Request) -> web.StreamResponse:
                    answer = await forwarder.forward(request, "x")
                    assert answer is not None
                    return answer

                app = web.Application(middlewares=[json_errors])
                app.router.add_get(path, front)
                async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                    response = await client.get(path, headers=headers)
                    body = json.loads(await response.read())
                    assert response.status == status, body
                    if isinstance(expect, dict) and "Retry-After" in expect:
                        assert response.headers["Retry-After"] == expect["Retry-After"]
                        assert response.headers[ANSWERED_BY] == owner_url
                    elif isinstance(expect, dict):
                        assert body == expect
                        assert response.headers[ANSWERED_BY] == owner_url
                    else:
                        assert body["error"] == "unavailable" and expect in body["message"]
                        assert response.headers["Retry-After"] == "1"

    asyncio.run(main())
