"""`rankstream worker`: run the stream job (contract section 5).

:func:`create_app` wires the worker from its parts: the faust app
(:mod:`streams.runtime.faust_app`), the rank stage and, unless it runs on its own, the
intake stage beside it (:mod:`streams.runtime.rank_stage`), and the query API
(:mod:`streams.apps.api`) over the cluster as faust sees it
(:mod:`streams.runtime.ownership`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from streams.apps.cliargs import run_job

if TYPE_CHECKING:
    import faust

    from streams.engine.config import BoardsConfig
    from streams.runtime.settings import Settings


HELP = "run the stream job (settings from RANKSTREAM_* variables or .env)"
DESCRIPTION = (
    "Validates the scores topic (unless RANKSTREAM_RUN_INTAKE=false), keeps the leaderboards "
    "in RocksDB and publishes rank changes to the push topic."
)


def create_app(settings: Settings, boards: BoardsConfig | None = None) -> faust.App:
    """The worker's faust app, ready to run (``boards`` default: ``settings.boards``)."""
    from streams.apps.api.faust_web import register_api
    from streams.apps.api.routes import MAX_REQUEST_LINE
    from streams.engine.config import load_boards
    from streams.runtime.faust_app import faust_app
    from streams.runtime.ownership import FaustCluster
    from streams.runtime.rank_stage import RankStage

    config = boards if boards is not None else load_boards(settings.boards)
    app = faust_app(settings, max_request_line=MAX_REQUEST_LINE)
    stage = RankStage(app, settings, config)
    stage.attach(app)
    cluster = FaustCluster(app, stage.ranker, stage.by_board_name, settings.partitions)
    register_api(app, cluster, stage.ranker, settings, config)
    return app


def run(args: argparse.Namespace) -> int:
    def start(settings: Settings, boards: BoardsConfig) -> int:
        from faust import Worker

        from streams.runtime.native_memory import pin_mmap_threshold

        pin_mmap_threshold(settings.malloc_mmap_threshold_kb * 1024)  # before RocksDB allocates
        app = create_app(settings, boards)
        Worker(app, loglevel=args.loglevel, quiet=True).execute_from_commandline()
        return 0

    return run_job(args, start)
