"""`rankstream worker`: run the stream job (contract section 5)."""

from __future__ import annotations

import argparse
from typing import Any

from .cliargs import fail, settings_for
from .engine.config import ConfigError, load_boards
from .settings import SettingsError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "worker",
        help="run the stream job (settings from RANKSTREAM_* variables or .env)",
        description="Consumes the scores topic, keeps the leaderboards in RocksDB and "
        "publishes rank changes to the push topic.",
    )
    parser.add_argument("--loglevel", default="info", help="faust/worker log level")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_for(args)
        boards = load_boards(settings.boards)
    except SettingsError as exc:
        return fail(str(exc), 2)
    except ConfigError as exc:
        return fail(f"RANKSTREAM_BOARDS: {exc}", 2)
    import asyncio

    from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
    from faust import Worker

    from .app import create_app
    from .native_memory import pin_mmap_threshold
    from .topics import ensure_topics

    pin_mmap_threshold(settings.malloc_mmap_threshold_kb * 1024)  # before RocksDB allocates

    try:
        asyncio.run(ensure_topics(settings))
        app = create_app(settings, boards)
    except SettingsError as exc:  # e.g. a rejected login or an untrusted certificate
        return fail(str(exc), 2)
    except KafkaError as exc:
        return fail(f"Kafka at {settings.kafka_bootstrap} did not answer: {exc}", 1)
    worker = Worker(app, loglevel=args.loglevel, quiet=True)
    worker.execute_from_commandline()
    return 0
