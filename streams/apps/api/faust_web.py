"""The one adapter between the query API and faust's web server: the routes of
:mod:`.routes` mounted on the worker's faust app.

Only our routes are served: faust's built-in blueprints (its index page on ``/``, which
the live page owns, and the ``/router`` and ``/table`` introspection views) are dropped,
and every answer, also aiohttp's own 404 and 405, goes through :func:`.errors.json_errors`.
"""

from __future__ import annotations

from typing import Any, cast

import aiohttp
import faust
from aiohttp import web
from faust.web import Request, View

from schemas.timefmt import wall_clock_ms
from streams.apps.api.cluster import Cluster, Stats
from streams.apps.api.errors import json_errors
from streams.apps.api.forwarding import Forwarder
from streams.apps.api.live import Hub, run_push_consumer
from streams.apps.api.routes import Api, Clock, Handler, routes
from streams.engine.config import BoardsConfig
from streams.runtime.settings import Settings


def register_api(
    app: faust.App,
    cluster: Cluster,
    stats: Stats,
    settings: Settings,
    config: BoardsConfig,
    clock: Clock = wall_clock_ms,
) -> None:
    """Serve the query API, the live page, health and metrics on ``app``'s web server, and
    feed the live page from the push topic while the app runs."""

    def session() -> aiohttp.ClientSession:
        return app.http_client

    hub = Hub()
    api = Api(cluster, stats, config, hub, Forwarder(cluster, session), clock)
    app.web.blueprints._enabled.clear()
    web_app: web.Application = app.web.web_app  # type: ignore[attr-defined]
    web_app.middlewares.append(json_errors)
    for path, handler in routes(api):
        _get(app, path, handler)

    @app.task  # type: ignore[untyped-decorator]
    async def _push_consumer() -> None:
        await run_push_consumer(settings, hub)


def _get(app: faust.App, path: str, handler: Handler) -> None:
    class _View(View):
        async def get(self, request: Request, **kwargs: Any) -> Any:
            return await handler(cast(web.Request, request))

    _View.__name__ = "route" + path.replace("/", "_").replace("{", "").replace("}", "")
    app.page(path)(_View)
