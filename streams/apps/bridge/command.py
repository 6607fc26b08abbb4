"""`rankstream bridge`: run both paths until SIGTERM/SIGINT (settings: docs/bridge.md)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from streams.apps.bridge.backoff import Backoff
from streams.apps.bridge.inbound import Inbound
from streams.apps.bridge.metrics import BridgeMetrics
from streams.apps.bridge.outbound import Outbound
from streams.apps.bridge.supervisor import BridgeConfigError, supervise
from streams.apps.cliargs import SETTING_STATUS, fail, run_command
from streams.runtime.settings import Settings, redact_url

__all__ = ["add_parser", "bridge", "run"]

log = logging.getLogger("rankstream.bridge")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "bridge",
        help="connect the RabbitMQ queue rank_update and the exchange rank_changes to Kafka",
        description="In: consumes the RabbitMQ queue (RANKSTREAM_BRIDGE_QUEUE, default "
        "rank_update) into the scores topic, invalid messages to the DLQ queue. Out: "
        "publishes the push topic to the topic exchange rank_changes, routing key "
        "<board>.<window>. Settings from RANKSTREAM_* variables or .env; see docs/bridge.md.",
    )
    parser.add_argument("--loglevel", default="info", help="log level (default: info)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Exit 2 for a setting (also one the brokers reveal, e.g. a refused login); a broker
    that is down is waited for, never an exit."""

    def start(settings: Settings) -> int:
        logging.basicConfig(
            level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        for noisy in ("aiokafka", "aiormq", "aio_pika"):  # their own retries: our log says it
            logging.getLogger(noisy).setLevel(logging.ERROR)
        try:
            return asyncio.run(bridge(settings))
        except BridgeConfigError as exc:
            return fail(str(exc), SETTING_STATUS)

    return run_command(args, start, status=SETTING_STATUS)


async def bridge(settings: Settings, metrics: BridgeMetrics | None = None) -> int:
    """Run both paths until a stop signal; a config error ends it (exit status 2)."""
    metrics = metrics or BridgeMetrics()
    if settings.bridge_metrics_port:
        metrics.serve(settings.bridge_metrics_port)
    log.info(
        "bridge: RabbitMQ %s, Kafka %s, metrics %s",
        redact_url(settings.rabbitmq_url),
        settings.kafka_bootstrap,
        f"on :{settings.bridge_metrics_port}/metrics" if settings.bridge_metrics_port else "off",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    cap = settings.bridge_retry_max_s
    paths = [
        asyncio.create_task(
            supervise("in", Inbound(settings, metrics).session, Backoff(cap=cap), metrics)
        ),
        asyncio.create_task(
            supervise("out", Outbound(settings, metrics).session, Backoff(cap=cap), metrics)
        ),
    ]
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([*paths, stopper], return_when=asyncio.FIRST_COMPLETED)
    for task in [*paths, stopper]:
        task.cancel()
    # Both paths' outcomes are collected: both may fail at start (e.g. a rejected login).
    outcomes = await asyncio.gather(*paths, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            raise outcome
    log.info("bridge: stopped")
    return 0
