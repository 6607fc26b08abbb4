"""`rankstream intake`: the intake stage alone (contract section 5), so validation and
ranking scale apart. Workers of the same app id then run with ``RANKSTREAM_RUN_INTAKE=false``.

It serves ``GET /healthz`` (200 while the stage runs) and ``GET /metrics`` (Prometheus) on
``RANKSTREAM_WEB_PORT``, and stops on SIGTERM or SIGINT after the batch in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING

from streams.apps.cliargs import run_job

if TYPE_CHECKING:
    from streams.engine.config import BoardsConfig
    from streams.runtime.settings import Settings

log = logging.getLogger(__name__)


HELP = "run only the validation stage (scores topic -> by-board topic and DLQ)"
DESCRIPTION = (
    "Validates the scores topic and forwards valid events to the by-board topic the workers "
    "rank, invalid ones to the DLQ topic, exactly once."
)


def run(args: argparse.Namespace) -> int:
    def start(settings: Settings, boards: BoardsConfig) -> int:
        logging.basicConfig(
            level=args.loglevel.upper(),
            format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
        )
        return asyncio.run(_serve(settings, boards))

    return run_job(args, start)


async def _serve(settings: Settings, boards: BoardsConfig) -> int:
    from aiohttp import web
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, Metric
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    from streams.runtime.stage_setup import intake_stage

    invalid = [0]

    def count_invalid(n: int) -> None:
        invalid[0] += n

    stage = intake_stage(settings, boards, count_invalid)

    class Collector:
        """Read at scrape time, as the worker's metrics are: the loop pays nothing."""

        def collect(self) -> Iterator[Metric]:
            yield CounterMetricFamily(
                "rankstream_intake_records", "Score events the intake committed", stage.records
            )
            yield CounterMetricFamily(
                "rankstream_intake_invalid", "Score events the intake dead-lettered", invalid[0]
            )
            yield CounterMetricFamily(
                "rankstream_intake_batches", "Batches the intake committed", stage.batches
            )

    registry = CollectorRegistry()
    registry.register(Collector())

    async def healthz(request: web.Request) -> web.Response:
        running = stage.failed is None
        body = {"status": "running" if running else "failed", "ready": running}
        return web.json_response(body, status=200 if running else 409)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0]
        )

    web_app = web.Application()
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.web_host, settings.web_port).start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stage.start()
    log.info("intake: running as group %s", stage.group_id)
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait(
            [stopped, asyncio.ensure_future(stage.done())],
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        error = stage.failed
        await stage.stop()
        await runner.cleanup()
    if error is not None:
        log.error("intake: stopped by %r; nothing of the failed batch was committed", error)
        return 70
    return 0
