"""`rankstream worker`: run the stream job (contract section 5)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from streams.apps.cliargs import run_job

if TYPE_CHECKING:
    from streams.engine.config import BoardsConfig
    from streams.runtime.settings import Settings


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "worker",
        help="run the stream job (settings from RANKSTREAM_* variables or .env)",
        description="Validates the scores topic (unless RANKSTREAM_RUN_INTAKE=false), keeps "
        "the leaderboards in RocksDB and publishes rank changes to the push topic.",
    )
    parser.add_argument("--loglevel", default="info", help="faust/worker log level")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def start(settings: Settings, boards: BoardsConfig) -> int:
        from faust import Worker

        from streams.runtime.app import create_app
        from streams.runtime.native_memory import pin_mmap_threshold

        pin_mmap_threshold(settings.malloc_mmap_threshold_kb * 1024)  # before RocksDB allocates
        app = create_app(settings, boards)
        Worker(app, loglevel=args.loglevel, quiet=True).execute_from_commandline()
        return 0

    return run_job(args, start)
