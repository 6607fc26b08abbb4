"""HTTP routes of the worker, registered on faust's web server (aiohttp driver).

Queries read the engine of the board's partition through its write-back store, so they see
the state *including* the batch being processed (events applied, push records perhaps not
yet acknowledged); a query runs without awaiting, so it never sees half an event. Under
at-least-once that state is what a restart reproduces, as the same input is applied again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

import aiohttp
import faust
from faust.web import Request, Response, View

from schemas.query import (
    BoardOut,
    BoardPageOut,
    BoardsOut,
    EntryOut,
    ErrorOut,
    UserRankItem,
    UserRankOut,
    UserRanksOut,
    WindowOut,
)

from ..engine import query
from ..engine.config import BoardsConfig
from ..engine.core import Engine
from ..engine.events import WindowRef
from ..engine.query import QueryError
from ..engine.timefmt import format_ms
from ..engine.windows import Calendar
from ..ranker import Ranker
from ..settings import Settings
from .live import Hub, run_push_consumer, sse_response
from .metrics import metrics_text
from .owners import ANSWERED_BY, FORWARDED, Owners

log = logging.getLogger(__name__)
DEFAULT_LIMIT = 100
Handler = Callable[[View, Request], Awaitable[Response]]


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 12:
        raise QueryError(
            400, "bad_parameter", f"{name}: must be a non-negative integer, not {raw!r}"
        )
    return int(raw)


def _error(view: View, status: int, code: str, message: str) -> Response:
    return view.json(
        ErrorOut(error=code, message=message, status=status).model_dump(), status=status
    )


class Api:
    """State shared by the views: the ranker's engines, ownership, the live hub."""

    def __init__(
        self,
        app: faust.App,
        ranker: Ranker,
        settings: Settings,
        config: BoardsConfig,
        owners: Owners,
        hub: Hub,
    ) -> None:
        self.app = app
        self.ranker = ranker
        self.settings = settings
        self.config = config
        self.owners = owners
        self.hub = hub

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

    def window_out(self, board: str, window: WindowRef, is_open: bool) -> dict[str, Any]:
        grace = self.config.for_board(board).grace_seconds * 1000
        return WindowOut(
            window=window.kind,
            period=window.period,
            window_start=None if window.start is None else format_ms(window.start),
            window_end=None if window.end is None else format_ms(window.end),
            closes_at=None if window.end is None else format_ms(window.end + grace),
            open=is_open,
        ).model_dump()

    def resolve(
        self, engine: Engine, board: str, kind: str, period: str | None
    ) -> tuple[WindowRef, bool]:
        now_window = None
        cfg = self.config.for_board(board)
        if kind in cfg.windows and kind != "all":
            now_window = Calendar(cfg.timezone, cfg.week_start).window(kind, _wall_ms())
        window = query.resolve(engine, board, kind, period, now_window)
        info = query.board_windows(engine, board)
        return window, window in info.open or window == now_window

    def board_out(self, engine: Engine | None, board: str) -> dict[str, Any]:
        cfg = self.config.for_board(board)
        opened: list[dict[str, Any]] = []
        retained: list[dict[str, Any]] = []
        if engine is not None and engine.known(board):
            info = query.board_windows(engine, board)
            opened = [self.window_out(board, w, True) for w in info.open]
            retained = [self.window_out(board, w, False) for w in info.closed]
        return BoardOut(
            board=board,
            aggregate=cfg.aggregate,
            order=cfg.order,
            top=cfg.top,
            timezone=cfg.timezone,
            windows=list(cfg.windows),
            open=opened,
            retained=retained,
        ).model_dump()

    def local_boards(self) -> dict[str, dict[str, Any]]:
        """Boards whose partition this worker owns: configured ones and any with state."""
        found: dict[str, dict[str, Any]] = {}
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

    async def forward(self, view: View, request: Request, board: str) -> Response | None:
        """Answer from the owner of ``board`` when that is another worker; None: local."""
        partition = self.owners.partition(board)
        if self.owners.owns(partition):
            return None
        if request.headers.get(FORWARDED):
            return _error(view, 503, "unavailable", "partition is moving; retry shortly")
        owner = self.owners.owner_url(partition)
        if owner is None or owner == self.owners.own_url():
            return _error(view, 503, "unavailable", "no worker owns this board yet; retry shortly")
        url = owner + str(request.rel_url)
        session: aiohttp.ClientSession = self.app.http_client
        try:
            async with session.get(
                url, headers={FORWARDED: "1"}, timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                body = await response.read()
                return view.bytes(
                    body,
                    content_type=response.content_type,
                    status=response.status,
                    headers={ANSWERED_BY: owner},
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            return _error(view, 503, "unavailable", f"owner {owner} did not answer: {exc}")


def _board_query(api: Api, answer: Callable[[View, Request, Engine, str], Response]) -> Handler:
    """A view body for one board: forwarded to the owner, errors as JSON."""

    async def handler(view: View, request: Request) -> Response:
        board = request.match_info["board"]
        forwarded = await api.forward(view, request, board)
        if forwarded is not None:
            return forwarded
        engine = api.local_engine(board)
        if engine is None:
            return _error(view, 503, "unavailable", "partition is moving; retry shortly")
        try:
            return answer(view, request, engine, board)
        except QueryError as exc:
            return _error(view, exc.status, exc.code, exc.message)

    return handler


def register_api(
    app: faust.App, ranker: Ranker, settings: Settings, config: BoardsConfig, by_board: str
) -> None:
    """Add the query API, live page, health and metrics to ``app``'s web server."""
    table = app.tables["state"]
    owners = Owners(app, by_board, table.changelog_topic.get_topic_name(), settings.partitions)
    hub = Hub()
    api = Api(app, ranker, settings, config, owners, hub)
    # The page owns "/": drop faust's production index blueprint, which mounts there too.
    enabled = app.web.blueprints._enabled
    enabled[:] = [(prefix, bp) for prefix, bp in enabled if prefix != ""]

    def window_page(view: View, request: Request, engine: Engine, board: str) -> Response:
        kind = request.match_info["window"]
        window, is_open = api.resolve(engine, board, kind, request.query.get("period"))
        offset = _int_param(request, "offset", 0)
        limit = _int_param(request, "limit", DEFAULT_LIMIT)
        entries = query.page(engine, board, window, offset, limit)
        return view.json(
            BoardPageOut(
                board=board,
                **api.window_out(board, window, is_open),
                size=query.window_size(engine, board, window),
                offset=offset,
                limit=limit,
                entries=[EntryOut(rank=e.rank, user=e.user, score=e.score) for e in entries],
            ).model_dump()
        )

    def user_rank(view: View, request: Request, engine: Engine, board: str) -> Response:
        kind, user = request.match_info["window"], request.match_info["user"]
        window, is_open = api.resolve(engine, board, kind, request.query.get("period"))
        found = query.user_rank(engine, board, window, user, _int_param(request, "around", 0))
        if found is None:
            raise QueryError(404, "unknown_user", f"user {user!r} has no score in this window")
        return view.json(
            UserRankOut(
                board=board,
                **api.window_out(board, window, is_open),
                user=user,
                rank=found.rank,
                score=found.score,
                size=query.window_size(engine, board, window),
                neighbors=[
                    EntryOut(rank=e.rank, user=e.user, score=e.score) for e in found.neighbors
                ],
            ).model_dump()
        )

    def users_ranks(view: View, request: Request, engine: Engine, board: str) -> Response:
        kind = request.match_info["window"]
        window, is_open = api.resolve(engine, board, kind, request.query.get("period"))
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        found = query.users_ranks(engine, board, window, ids)
        return view.json(
            UserRanksOut(
                board=board,
                **api.window_out(board, window, is_open),
                size=query.window_size(engine, board, window),
                users=[
                    UserRankItem(user=u, rank=f and f.rank, score=f and f.score)
                    for u, f in zip(ids, found, strict=True)
                ],
            ).model_dump()
        )

    def board_info(view: View, request: Request, engine: Engine, board: str) -> Response:
        if not engine.known(board):
            raise QueryError(
                404, "unknown_board", f"board {board!r} is not configured and has no data"
            )
        return view.json(api.board_out(engine, board))

    _get(app, "/boards/{board}/{window}/users/{user}", _board_query(api, user_rank))
    _get(app, "/boards/{board}/{window}/users", _board_query(api, users_ranks))
    _get(app, "/boards/{board}/{window}", _board_query(api, window_page))
    _get(app, "/api/boards/{board}", _board_query(api, board_info))

    async def boards(view: View, request: Request) -> Response:
        found = api.local_boards()
        if request.query.get("scope") != "local":
            session: aiohttp.ClientSession = app.http_client

            async def fetch(url: str) -> dict[str, Any]:
                try:
                    async with session.get(
                        url + "/boards?scope=local", timeout=aiohttp.ClientTimeout(total=5)
                    ) as response:
                        return dict(await response.json())
                except (TimeoutError, aiohttp.ClientError, ValueError):
                    log.warning("boards: worker %s did not answer", url)
                    return {"boards": []}

            for answer in await asyncio.gather(*(fetch(u) for u in owners.peers())):
                for board in answer.get("boards", []):
                    found.setdefault(board["board"], board)
            for name in config.boards:  # configured, owner unknown right now
                found.setdefault(name, api.board_out(None, name))
        return view.json(
            BoardsOut.model_validate({"boards": [found[k] for k in sorted(found)]}).model_dump()
        )

    async def healthz(view: View, request: Request) -> Response:
        ready = api.ready()
        body = {"status": "ready" if ready else "recovering", "ready": ready}
        return view.json(body, status=200 if ready else 503)

    async def metrics(view: View, request: Request) -> Response:
        body, content_type = metrics_text(
            ranker.counts, api.ready(), hub.clients, _wall_ms(), ranker.rocksdb_memory()
        )
        return view.bytes(body, content_type=content_type.split(";")[0])

    async def live(view: View, request: Request) -> Any:
        return await sse_response(request, hub, request.match_info["board"])

    static = resources.files("streams.api") / "static"

    def asset(name: str, content_type: str) -> Handler:
        async def serve(view: View, request: Request) -> Response:
            return view.bytes((static / name).read_bytes(), content_type=content_type)

        return serve

    _get(app, "/boards", boards)
    _get(app, "/healthz", healthz)
    _get(app, "/metrics", metrics)
    _get(app, "/live/{board}", live)
    _get(app, "/", asset("index.html", "text/html"))
    _get(app, "/boards/{board}", asset("board.html", "text/html"))
    _get(app, "/static/live.js", asset("live.js", "application/javascript"))
    _get(app, "/static/style.css", asset("style.css", "text/css"))

    @app.task  # type: ignore[untyped-decorator]
    async def _push_consumer() -> None:
        await run_push_consumer(settings, hub)


def _get(app: faust.App, path: str, handler: Handler) -> None:
    class _View(View):
        async def get(self, request: Request, **kwargs: Any) -> Any:
            return await handler(self, request)

    _View.__name__ = "route" + path.replace("/", "_").replace("{", "").replace("}", "")
    app.page(path)(_View)
