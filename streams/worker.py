"""`rankstream worker`: run the stream job (contract section 5)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .engine.config import ConfigError, load_boards
from .settings import load_settings


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
    settings = load_settings()
    try:
        boards = load_boards(settings.boards)
    except ConfigError as exc:
        print(f"rankstream: error: RANKSTREAM_BOARDS: {exc}", file=sys.stderr)
        return 2
    if settings.processing_guarantee == "exactly_once":
        print(
            "rankstream: error: processing_guarantee=exactly_once (the contract's default) is "
            "not implemented yet; set RANKSTREAM_PROCESSING_GUARANTEE=at_least_once",
            file=sys.stderr,
        )
        return 2
    from faust import Worker

    from .app import create_app

    app = create_app(settings, boards)
    worker = Worker(app, loglevel=args.loglevel, quiet=True)
    worker.execute_from_commandline()
    return 0
