"""The `rankstream` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .cliargs import fail
from .engine.config import ConfigError, load_boards
from .engine.timefmt import TimestampError, parse_rfc3339_ms


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.run(args))


def _parser() -> argparse.ArgumentParser:
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
        help="pin the wall clock used by the future rule (RFC 3339, e.g. 2026-11-27T00:00:00Z)",
    )
    replay.add_argument("--dlq", help="write dead letters here as JSONL")
    replay.set_defaults(run=_run_replay)
    # The stream-job commands import faust/aiokafka lazily: replay must not pay for them.
    from . import demo, watch, worker
    from .bridge import command as bridge

    worker.add_parser(sub)
    demo.add_parser(sub)
    watch.add_parser(sub)
    bridge.add_parser(sub)
    return parser


def _run_replay(args: argparse.Namespace) -> int:
    from .replay import replay, wall_clock_ms

    try:
        config = load_boards(args.boards)
    except ConfigError as exc:
        return fail(str(exc), 2)
    clock = wall_clock_ms
    if args.now is not None:
        try:
            now = parse_rfc3339_ms(args.now)
        except TimestampError as exc:
            return fail(f"--now {args.now!r}: {exc}", 2)
        clock = lambda: now  # noqa: E731
    try:
        dlq = open(args.dlq, "wb") if args.dlq else None  # noqa: SIM115
    except OSError as exc:
        return fail(f"--dlq {args.dlq}: cannot write: {exc.strerror}", 2)
    try:
        stats = replay(sys.stdin.buffer, sys.stdout.buffer, dlq, config, clock)
    finally:
        if dlq is not None:
            dlq.close()
    sys.stdout.flush()
    print(stats.summary(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
