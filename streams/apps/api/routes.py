"""The HTTP routes of the worker as plain aiohttp handlers over a
:class:`~streams.apps.api.cluster.Cluster` (what the stream job is asked: which engine
holds a board, is this worker ready, where is the owner); nothing here knows faust.

Invariants:

* Queries read the engine of the board's partition through its write-back store, so they
  see the state *including* the batch being processed (events applied, push records
  perhaps not yet acknowledged); a query runs without awaiting, so it never sees half an
  event. Under at-least-once that state is what a restart reproduces, as the same input
  is applied again.
* Parameters are parsed by the models of :mod:`.params` before anything else (a bad one is
  a 400 before any forwarding); the operations and their models are
  :data:`.openapi.OPERATIONS`, which is also ``/openapi.json``, and every operation has
  exactly one handler (:func:`routes` refuses otherwise); errors become JSON in
  :mod:`.errors`.
* "Now" is ``clock()`` (wall clock, epoch ms), injectable for tests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import metadata, resources
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from schemas.query import (
    BoardOut,
    BoardPageOut,
    BoardsOut,
    EntryOut,
    HealthOut,
    UserRankItem,
    UserRankOut,
    UserRanksOut,
    WindowOut,
)
from schemas.timefmt import format_ms, wall_clock_ms
from streams.apps.api.cluster import Cluster, Stats
from streams.apps.api.errors import UNAVAILABLE, Unavailable
from streams.apps.api.forwarding import Forwarder
from streams.apps.api.live import Hub, sse_response
from streams.apps.api.metrics import metrics_text
from streams.apps.api.openapi import OPERATIONS, document
from streams.apps.api.params import (
    BoardPath,
    BoardsParams,
    NoParams,
    PageParams,
    Params,
    UserParams,
    UserPath,
    UsersParams,
    WindowPath,
    parse_path,
    parse_query,
)
from streams.engine import query
from streams.engine.config import BoardsConfig
from streams.engine.core import Engine
from streams.engine.events import WindowRef
from streams.engine.query import QueryError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Clock = Callable[[], int]
P = TypeVar("P", bound=BaseModel)
Q = TypeVar("Q", bound=Params)

#: Room for the longest valid request: 100 user ids of 128 characters, each up to 4 bytes
#: of UTF-8 percent-encoded (x3) with its ``&id=`` (~154 KiB), a user in the path, a period.
MAX_REQUEST_LINE = 256 * 1024


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        body=model.model_dump_json().encode(), status=status, content_type="application/json"
    )


@dataclass
class Api:
    """What the handlers share: the cluster, the boards' configuration, the live hub, the
    forwarder and the clock."""

    cluster: Cluster
    stats: Stats
    config: BoardsConfig
    hub: Hub
    forwarder: Forwarder
    clock: Clock = wall_clock_ms

    def window_out(self, board: str, window: WindowRef, is_open: bool) -> WindowOut:
        grace = self.config.for_board(board).grace_seconds * 1000
        return WindowOut(
            window=window.kind,
            period=window.period,
            window_start=None if window.start is None else format_ms(window.start),
            window_end=None if window.end is None else format_ms(window.end),
            closes_at=None if window.end is None else format_ms(window.end + grace),
            open=is_open,
        )

    def board_out(self, engine: Engine | None, board: str) -> BoardOut:
        """The board's settings and windows; without its engine (owner unknown right now)
        the current windows still follow from its configuration and the clock."""
        cfg = self.config.for_board(board)
        now = self.clock()
        if engine is not None and engine.known(board):
            info = query.board_windows(engine, board, now)
            current = [self.window_out(board, w, info.is_open(w)) for w in info.current]
            opened = [self.window_out(board, w, True) for w in info.open]
            retained = [self.window_out(board, w, False) for w in info.closed]
        else:
            current = [self.window_out(board, w, True) for w in query.current_windows(cfg, now)]
            opened, retained = [], []
        return BoardOut(
            board=board,
            aggregate=cfg.aggregate,
            order=cfg.order,
            top=cfg.top,
            timezone=cfg.timezone,
            windows=list(cfg.windows),
            current=current,
            open=opened,
            retained=retained,
        )

    def local_boards(self) -> dict[str, BoardOut]:
        """Boards whose partition this worker owns: configured ones and any with state."""
        names = set(self.config.boards)
        for engine in self.cluster.engines():
            names.update(engine.boards())
        found: dict[str, BoardOut] = {}
        for name in sorted(names):
            owned = self.cluster.engine(name)
            if owned is not None:
                found[name] = self.board_out(owned, name)
        return found

    def board_query(
        self,
        path_model: type[P],
        params_model: type[Q],
        answer: Callable[[Engine, P, Q], BaseModel],
    ) -> Handler:
        """A handler for one board: parameters checked, forwarded to the owner, answered."""

        async def handler(request: web.Request) -> web.StreamResponse:
            path = parse_path(path_model, request.match_info)
            params = parse_query(params_model, request.query)
            board: str = path.board  # type: ignore[attr-defined]
            forwarded = await self.forwarder.forward(request, board)
            if forwarded is not None:
                return forwarded
            engine = self.cluster.engine(board)
            if engine is None:
                raise Unavailable("partition is moving or recovering; retry shortly")
            return _json(answer(engine, path, params))

        return handler

    # -- answers -----------------------------------------------------------------------

    def window_page(self, engine: Engine, path: WindowPath, params: PageParams) -> BoardPageOut:
        board = path.board
        window, is_open = query.resolve(engine, board, path.window, params.period, self.clock())
        entries = query.page(engine, board, window, params.offset, params.limit)
        return BoardPageOut(
            board=board,
            **self.window_out(board, window, is_open).model_dump(),
            size=query.window_size(engine, board, window),
            offset=params.offset,
            limit=params.limit,
            entries=[EntryOut(rank=e.rank, user=e.user, score=e.score) for e in entries],
        )

    def user_rank(self, engine: Engine, path: UserPath, params: UserParams) -> UserRankOut:
        board, user = path.board, path.user
        window, is_open = query.resolve(engine, board, path.window, params.period, self.clock())
        found = query.user_rank(engine, board, window, user, params.around)
        if found is None:
            raise QueryError(404, "unknown_user", f"user {user!r} has no score in this window")
        return UserRankOut(
            board=board,
            **self.window_out(board, window, is_open).model_dump(),
            user=user,
            rank=found.rank,
            score=found.score,
            size=query.window_size(engine, board, window),
            neighbors=[EntryOut(rank=e.rank, user=e.user, score=e.score) for e in found.neighbors],
        )

    def users_ranks(self, engine: Engine, path: WindowPath, params: UsersParams) -> UserRanksOut:
        board, ids = path.board, params.users
        window, is_open = query.resolve(engine, board, path.window, params.period, self.clock())
        found = query.users_ranks(engine, board, window, ids)
        return UserRanksOut(
            board=board,
            **self.window_out(board, window, is_open).model_dump(),
            size=query.window_size(engine, board, window),
            users=[
                UserRankItem(user=u, rank=f and f.rank, score=f and f.score)
                for u, f in zip(ids, found, strict=True)
            ],
        )

    def board_info(self, engine: Engine, path: BoardPath, params: NoParams) -> BoardOut:
        query.board_windows(engine, path.board, self.clock())  # 404 for an unknown board
        return self.board_out(engine, path.board)

    # -- handlers without a board ----------------------------------------------------

    async def boards(self, request: web.Request) -> web.StreamResponse:
        params = parse_query(BoardsParams, request.query)
        found = self.local_boards()
        if params.scope != "local":
            peers = self.cluster.peers()
            for answer in await asyncio.gather(*map(self.forwarder.peer_boards, peers)):
                for board in answer:
                    found.setdefault(board.board, board)
            for name in self.config.boards:  # configured, owner unknown right now
                found.setdefault(name, self.board_out(None, name))
        return _json(BoardsOut(boards=[found[k] for k in sorted(found)]))

    async def healthz(self, request: web.Request) -> web.StreamResponse:
        parse_query(NoParams, request.query)
        ready = self.cluster.ready()
        body = HealthOut(status="ready" if ready else "recovering", ready=ready)
        response = _json(body, status=200 if ready else UNAVAILABLE)
        if not ready:
            response.headers["Retry-After"] = "1"
        return response

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        parse_query(NoParams, request.query)
        body, content_type = metrics_text(
            self.stats.counts,
            self.cluster.ready(),
            self.hub.clients,
            self.clock(),
            self.stats.rocksdb_memory(),
        )
        return web.Response(body=body, content_type=content_type.split(";")[0])

    async def live(self, request: web.Request) -> web.StreamResponse:
        board = parse_path(BoardPath, request.match_info).board
        return await sse_response(request, self.hub, board)


def routes(api: Api) -> list[tuple[str, Handler]]:
    """(path, GET handler) of every route: the operations of ``/openapi.json``, the live
    stream and the live page's files."""
    openapi_body = json.dumps(document(_version())).encode()

    async def openapi(request: web.Request) -> web.StreamResponse:
        parse_query(NoParams, request.query)
        return web.Response(body=openapi_body, content_type="application/json")

    handlers: dict[str, Handler] = {
        "listBoards": api.boards,
        "getBoard": api.board_query(BoardPath, NoParams, api.board_info),
        "getWindowPage": api.board_query(WindowPath, PageParams, api.window_page),
        "getUserRank": api.board_query(UserPath, UserParams, api.user_rank),
        "getUsersRanks": api.board_query(WindowPath, UsersParams, api.users_ranks),
        "getHealth": api.healthz,
        "getMetrics": api.metrics,
        "getOpenApi": openapi,
    }
    missing = {op.operation_id for op in OPERATIONS} ^ set(handlers)
    if missing:
        raise RuntimeError(f"operations without a handler or document entry: {missing}")
    return [
        *((op.path, handlers[op.operation_id]) for op in OPERATIONS),
        ("/live/{board}", api.live),
        ("/", _page("index.html", "rankstream boards")),
        ("/boards/{board}", _page("board.html", "rankstream board")),
        ("/static/live.js", _asset("live.js", "application/javascript")),
        ("/static/style.css", _asset("style.css", "text/css")),
    ]


_STATIC = resources.files("streams.apps.api") / "static"


def _asset(name: str, content_type: str) -> Handler:
    async def serve(request: web.Request) -> web.StreamResponse:
        return web.Response(body=(_STATIC / name).read_bytes(), content_type=content_type)

    return serve


def _page(body: str, title: str) -> Handler:
    """An HTML page: the shared ``<head>`` (``page.html``) and the page's own ``<body>``."""

    async def serve(request: web.Request) -> web.StreamResponse:
        head = (_STATIC / "page.html").read_text().replace("{title}", title)
        return web.Response(text=head + (_STATIC / body).read_text(), content_type="text/html")

    return serve


def _version() -> str:
    try:
        return metadata.version("rankstream")
    except metadata.PackageNotFoundError:
        return "0"
