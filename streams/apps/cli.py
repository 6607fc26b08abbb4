"""The `rankstream` command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from schemas.timefmt import TimestampError, parse_rfc3339_ms
from streams.apps.cliargs import add_job_command, fail, positive_int
from streams.engine.config import ConfigError, load_boards


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The stream-job commands import faust, aiokafka and aio-pika (~0.5 s): a replay, which
    # is timed against a json.loads floor as a whole process, must not pay for them.
    parser = _parser(jobs=argv[:1] != ["replay"])
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.run(args))


def _parser(jobs: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rankstream", description="Real-time windowed leaderboards."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    replay = sub.add_parser(
        "replay",
        help="run the engine over a JSONL file of score events",
        description="Reads score events (JSONL) on stdin, writes push-topic records "
        "(JSONL) on stdout, in file order and deterministically.",
    )
    replay.add_argument("--boards", required=True, help="boards TOML file (contract section 2)")
    replay.add_argument(
        "--now",
        help="pin the wall clock (RFC 3339, e.g. 2026-11-27T00:00:00Z): it drives the future "
        "rule, and at the end of the input every board is idle at that time, so windows "
        "due by then close (idle close); without it windows close on event time only",
    )
    replay.add_argument("--dlq", help="write dead letters here as JSONL")
    replay.add_argument(
        "--jobs",
        type=positive_int,
        default=os.cpu_count() or 1,
        help="processes to split the boards over; the output is the same bytes whatever "
        "the number (default: the number of cores, here %(default)s)",
    )
    replay.set_defaults(run=_run_replay)
    if not jobs:
        return parser
    from streams.apps import demo, intake, watch, worker
    from streams.apps.bridge import command as bridge

    for name, job in (("worker", worker), ("intake", intake)):
        add_job_command(sub, name, job.HELP, job.DESCRIPTION, job.run)
    demo.add_parser(sub)
    watch.add_parser(sub)
    bridge.add_parser(sub)
    return parser


def _run_replay(args: argparse.Namespace) -> int:
    from schemas.timefmt import wall_clock_ms
    from streams.apps.replay import replay
    from streams.apps.replay_jobs import ReplayWorkerError, replay_jobs

    try:
        config = load_boards(args.boards)
    except ConfigError as exc:
        return fail(str(exc), 2)
    clock = wall_clock_ms
    now: int | None = None
    if args.now is not None:
        try:
            pinned = now = parse_rfc3339_ms(args.now)
        except TimestampError as exc:
            return fail(f"--now {args.now!r}: {exc}", 2)
        clock = lambda: pinned  # noqa: E731
    try:
        dlq = open(args.dlq, "wb") if args.dlq else None  # noqa: SIM115
    except OSError as exc:
        return fail(f"--dlq {args.dlq}: cannot write: {exc.strerror}", 2)
    try:
        if args.jobs == 1:
            stats = replay(sys.stdin.buffer, sys.stdout.buffer, dlq, config, clock, idle_at=now)
        else:
            stats = replay_jobs(sys.stdin.buffer, sys.stdout.buffer, dlq, config, now, args.jobs)
    except ReplayWorkerError as exc:
        return fail(str(exc), 1)
    finally:
        if dlq is not None:
            dlq.close()
    sys.stdout.flush()
    print(stats.summary(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
