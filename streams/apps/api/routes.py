"""HTTP routes of the worker, registered on faust's web server (aiohttp driver).

Queries read the engine of the board's partition through its write-back store, so they see
the state *including* the batch being processed (events applied, push records perhaps not
yet acknowledged); a query runs without awaiting, so it never sees half an event. Under
at-least-once that state is what a restart reproduces, as the same input is applied again.

Parameters are parsed by the models of :mod:`.params` before anything else (a bad one is a
400 before any forwarding); the operations and their models are :data:`.openapi.OPERATIONS`,
which is also ``/openapi.json``; errors become JSON in :mod:`.errors`. "Now" is ``clock()``
(wall clock, epoch ms), injectable for tests.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import metadata, resources
from typing import Any, TypeVar

import aiohttp
import faust
from aiohttp import web
from faust.web import Request, View
from pydantic import BaseModel, ValidationError

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
from streams.apps.api.errors import UNAVAILABLE, Unavailable, json_errors
from streams.apps.api.live import Hub, run_push_consumer, sse_response
from streams.apps.api.metrics import metrics_text
from streams.apps.api.openapi import OPERATIONS, document
from streams.apps.api.owners import ANSWERED_BY, FORWARDED, Owners
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
from streams.runtime.ranker import Ranker
from streams.runtime.settings import Settings

log = logging.getLogger(__name__)
Handler = Callable[[Request], Awaitable[web.StreamResponse]]
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


class Api:
    """State shared by the views: the ranker's engines, ownership, the live hub, the clock."""

    def __init__(
        self,
        app: faust.App,
        ranker: Ranker,
        settings: Settings,
        config: BoardsConfig,
        owners: Owners,
        hub: Hub,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self.app = app
        self.ranker = ranker
        self.settings = settings
        self.config = config
        self.owners = owners
        self.hub = hub
        self.clock = clock

    def ready(self) -> bool:
        recovery = self.app.tables.recovery  # type: ignore[attr-defined]
        faust_ready = recovery.completed.is_set() and not recovery.in_recovery
        return bool(faust_ready and self.ranker.ready())

    def local_engine(self, board: str) -> Engine | None:
        """The engine of the board's partition when this worker owns it and its state is
        recovered. Never earlier: an engine caches board metadata when it is created, and
        one built from a half-restored database would hand the agent stale watermarks."""
        partition = self.owners.partition(board)
        if not self.ready() or not self.owners.owns(partition):
            return None
        return self.ranker.engine_for(partition)

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
        found: dict[str, BoardOut] = {}
        names = set(self.config.boards)
        if not self.ready():
            return found
        for partition in range(self.settings.partitions):
            engine = self.ranker.engine_for(partition) if self.owners.owns(partition) else None
            if engine is not None:
                names.update(engine.boards())
        for name in sorted(names):
            engine = self.local_engine(name)
            if engine is not None:
                found[name] = self.board_out(engine, name)
        return found

    async def peer_boards(self, url: str) -> list[BoardOut]:
        """The boards another worker owns (``/boards?scope=local``); none when it does not
        answer or answers something else."""
        session: aiohttp.ClientSession = self.app.http_client
        try:
            async with session.get(
                url + "/boards?scope=local", timeout=aiohttp.ClientTimeout(total=5)
            ) as response:
                if response.status != 200:
                    raise ValueError(f"status {response.status}")
                return BoardsOut.model_validate_json(await response.read()).boards
        except (TimeoutError, aiohttp.ClientError, ValueError, ValidationError) as exc:
            log.warning("boards: worker %s did not answer: %s", url, exc)
            return []

    async def forward(self, request: Request, board: str) -> web.StreamResponse | None:
        """Answer from the owner of ``board`` when that is another worker; None: local."""
        partition = self.owners.partition(board)
        if self.owners.owns(partition):
            return None
        if request.headers.get(FORWARDED):
            raise Unavailable("partition is moving; retry shortly")
        owner = self.owners.owner_url(partition)
        if owner is None or owner == self.owners.own_url():
            raise Unavailable("no worker owns this board yet; retry shortly")
        url = owner + str(request.rel_url)
        session: aiohttp.ClientSession = self.app.http_client
        try:
            async with session.get(
                url, headers={FORWARDED: "1"}, timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                body = await response.read()
                status, content_type = response.status, response.content_type
                retry_after = response.headers.get("Retry-After", "1")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Unavailable(f"owner {owner} did not answer: {exc!r}") from None
        if status >= 500:  # an owner that fails is, to this client, an owner not answering
            raise Unavailable(f"owner {owner} answered {status}; retry shortly")
        headers = {ANSWERED_BY: owner}
        if status == UNAVAILABLE:
            headers["Retry-After"] = retry_after
        return web.Response(body=body, status=status, content_type=content_type, headers=headers)


def _board_query(
    api: Api,
    path_model: type[P],
    params_model: type[Q],
    answer: Callable[[Engine, P, Q], BaseModel],
) -> Handler:
    """A view body for one board: parameters checked, forwarded to the owner, answered."""

    async def handler(request: Request) -> web.StreamResponse:
        path = parse_path(path_model, request.match_info)
        params = parse_query(params_model, request.query)
        board: str = path.board  # type: ignore[attr-defined]
        forwarded = await api.forward(request, board)
        if forwarded is not None:
            return forwarded
        engine = api.local_engine(board)
        if engine is None:
            raise Unavailable("partition is moving or recovering; retry shortly")
        return _json(answer(engine, path, params))

    return handler


def register_api(
    app: faust.App,
    ranker: Ranker,
    settings: Settings,
    config: BoardsConfig,
    by_board: str,
    clock: Clock = wall_clock_ms,
) -> None:
    """Add the query API, live page, health and metrics to ``app``'s web server."""
    table = app.tables["state"]
    owners = Owners(app, by_board, table.changelog_topic.get_topic_name(), settings.partitions)
    hub = Hub()
    api = Api(app, ranker, settings, config, owners, hub, clock)
    # Only our routes: faust's built-in blueprints (its index page on "/", which the live
    # page owns, and the /router and /table introspection views) are dropped.
    app.web.blueprints._enabled.clear()
    web_app: web.Application = app.web.web_app  # type: ignore[attr-defined]
    web_app.middlewares.append(json_errors)

    def window_page(engine: Engine, path: WindowPath, params: PageParams) -> BoardPageOut:
        board = path.board
        window, is_open = query.resolve(engine, board, path.window, params.period, api.clock())
        entries = query.page(engine, board, window, params.offset, params.limit)
        return BoardPageOut(
            board=board,
            **api.window_out(board, window, is_open).model_dump(),
            size=query.window_size(engine, board, window),
            offset=params.offset,
            limit=params.limit,
            entries=[EntryOut(rank=e.rank, user=e.user, score=e.score) for e in entries],
        )

    def user_rank(engine: Engine, path: UserPath, params: UserParams) -> UserRankOut:
        board, user = path.board, path.user
        window, is_open = query.resolve(engine, board, path.window, params.period, api.clock())
        found = query.user_rank(engine, board, window, user, params.around)
        if found is None:
            raise QueryError(404, "unknown_user", f"user {user!r} has no score in this window")
        return UserRankOut(
            board=board,
            **api.window_out(board, window, is_open).model_dump(),
            user=user,
            rank=found.rank,
            score=found.score,
            size=query.window_size(engine, board, window),
            neighbors=[EntryOut(rank=e.rank, user=e.user, score=e.score) for e in found.neighbors],
        )

    def users_ranks(engine: Engine, path: WindowPath, params: UsersParams) -> UserRanksOut:
        board, ids = path.board, params.users
        window, is_open = query.resolve(engine, board, path.window, params.period, api.clock())
        found = query.users_ranks(engine, board, window, ids)
        return UserRanksOut(
            board=board,
            **api.window_out(board, window, is_open).model_dump(),
            size=query.window_size(engine, board, window),
            users=[
                UserRankItem(user=u, rank=f and f.rank, score=f and f.score)
                for u, f in zip(ids, found, strict=True)
            ],
        )

    def board_info(engine: Engine, path: BoardPath, params: NoParams) -> BoardOut:
        query.board_windows(engine, path.board, api.clock())  # 404 for an unknown board
        return api.board_out(engine, path.board)

    async def boards(request: Request) -> web.StreamResponse:
        params = parse_query(BoardsParams, request.query)
        found = api.local_boards()
        if params.scope != "local":
            for answer in await asyncio.gather(*(api.peer_boards(u) for u in owners.peers())):
                for board in answer:
                    found.setdefault(board.board, board)
            for name in config.boards:  # configured, owner unknown right now
                found.setdefault(name, api.board_out(None, name))
        return _json(BoardsOut(boards=[found[k] for k in sorted(found)]))

    async def healthz(request: Request) -> web.StreamResponse:
        parse_query(NoParams, request.query)
        ready = api.ready()
        body = HealthOut(status="ready" if ready else "recovering", ready=ready)
        response = _json(body, status=200 if ready else UNAVAILABLE)
        if not ready:
            response.headers["Retry-After"] = "1"
        return response

    async def metrics(request: Request) -> web.StreamResponse:
        parse_query(NoParams, request.query)
        body, content_type = metrics_text(
            ranker.counts, api.ready(), hub.clients, api.clock(), ranker.rocksdb_memory()
        )
        return web.Response(body=body, content_type=content_type.split(";")[0])

    openapi_body = json.dumps(document(_version())).encode()

    async def openapi(request: Request) -> web.StreamResponse:
        parse_query(NoParams, request.query)
        return web.Response(body=openapi_body, content_type="application/json")

    async def live(request: Request) -> Any:
        board = parse_path(BoardPath, request.match_info).board
        return await sse_response(request, hub, board)

    static = resources.files("streams.apps.api") / "static"

    def asset(name: str, content_type: str) -> Handler:
        async def serve(request: Request) -> web.StreamResponse:
            return web.Response(body=(static / name).read_bytes(), content_type=content_type)

        return serve

    handlers: dict[str, Handler] = {
        "listBoards": boards,
        "getBoard": _board_query(api, BoardPath, NoParams, board_info),
        "getWindowPage": _board_query(api, WindowPath, PageParams, window_page),
        "getUserRank": _board_query(api, UserPath, UserParams, user_rank),
        "getUsersRanks": _board_query(api, WindowPath, UsersParams, users_ranks),
        "getHealth": healthz,
        "getMetrics": metrics,
        "getOpenApi": openapi,
    }
    missing = {op.operation_id for op in OPERATIONS} ^ set(handlers)
    if missing:
        raise RuntimeError(f"operations without a handler or document entry: {missing}")
    for op in OPERATIONS:
        _get(app, op.path, handlers[op.operation_id])
    _get(app, "/live/{board}", live)
    _get(app, "/", asset("index.html", "text/html"))
    _get(app, "/boards/{board}", asset("board.html", "text/html"))
    _get(app, "/static/live.js", asset("live.js", "application/javascript"))
    _get(app, "/static/style.css", asset("style.css", "text/css"))

    @app.task  # type: ignore[untyped-decorator]
    async def _push_consumer() -> None:
        await run_push_consumer(settings, hub)


def _version() -> str:
    try:
        return metadata.version("rankstream")
    except metadata.PackageNotFoundError:
        return "0"


def _get(app: faust.App, path: str, handler: Handler) -> None:
    class _View(View):
        async def get(self, request: Request, **kwargs: Any) -> Any:
            return await handler(request)

    _View.__name__ = "route" + path.replace("/", "_").replace("{", "").replace("}", "")
    app.page(path)(_View)
