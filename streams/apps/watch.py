"""``rankstream watch``: the live top-10 of every board, folded from the push topic.

::

    rankstream watch                      # from now on, until Ctrl-C
    rankstream watch --from-beginning --board arena --limit 20

It reads the push topic (contract section 3) the way a downstream service would: with
``isolation_level=read_committed`` (so, with the job's default exactly-once guarantee,
every change is seen once and aborted transactions never), as its own consumer without a
consumer group (it commits nothing and every partition is assigned to it), starting at the
end of the topic or, with ``--from-beginning``, at its start. Records are folded with
:class:`streams.edge.fold.Folded`.

What is drawn follows the wall clock, like the query API without ``period``: for each board
(those seen on the topic and those in the boards file, ``RANKSTREAM_BOARDS``), each window
kind it has shows its *current* period, the one that contains the wall clock in the
board's time zone (from the boards file; UTC and all three kinds for a board not in it),
``(empty)`` until its first change arrives. When the newest period seen on the topic for
that kind is another one (yesterday's, its final standings once its ``window_closed``
came), it is drawn too, before the current one and marked ``(closed)`` or
``(previous)``. At the end of a current window (local midnight) the screen moves to the
new period by itself, with no record needed.

On a terminal the screen is cleared and redrawn, at most ~5 times a second and only when
something changed; a user whose rank improved since the previous frame is marked ``▲n``
(n places up, ``▲new`` for a newcomer to the shown rows) in green. When stdout is not a
terminal (a pipe, a file, a test) the same frames are printed one after the other as plain
text, separated by a blank line, without ANSI codes.

A record that is not a push record (bad JSON, missing fields) is counted and skipped. When
the topic does not exist yet, ``watch`` waits for it instead of letting the broker
auto-create it with default settings before the worker does.

The rendering (:func:`render_frame`) is a pure function of a :class:`WatchView`, so it is
tested without a broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from schemas.timefmt import format_ms, wall_clock_ms
from streams.apps import cliargs
from streams.edge.fold import Folded, WindowKey
from streams.engine.config import BoardsConfig
from streams.engine.query import current_windows

if TYPE_CHECKING:
    from streams.runtime.settings import Settings

__all__ = ["Frame", "WatchView", "add_parser", "render_frame", "watch"]

CLEAR = "\x1b[H\x1b[2J"
_GREEN = "\x1b[32;1m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_RESET = "\x1b[0m"
_WINDOW_ORDER = {"daily": 0, "weekly": 1, "all": 2}

#: Ranks shown in the previous frame: window -> user -> rank.
Shown = dict[WindowKey, dict[str, int]]


@dataclass
class WatchView:
    """What has been read so far: the folded standings plus the windows' bounds."""

    folded: Folded = field(default_factory=Folded)
    window_end: dict[WindowKey, str | None] = field(default_factory=dict)
    records: int = 0
    skipped: int = 0
    config: BoardsConfig = field(default_factory=BoardsConfig)  # time zones and kinds

    def apply_raw(self, value: bytes | None) -> bool:
        """Fold one message value; False (and counted as skipped) when it is no push record."""
        try:
            record = json.loads(value) if value is not None else None
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            self.apply(record)
        except (ValueError, KeyError, TypeError):
            self.skipped += 1
            return False
        return True

    def apply(self, record: Mapping[str, Any]) -> None:
        if record["type"] not in ("rank_change", "window_closed"):
            raise ValueError(f"unknown record type {record['type']!r}")
        self.folded.apply(record)
        key: WindowKey = (record["board"], record["window"], record["period"])
        self.window_end[key] = record.get("window_end")
        self.records += 1

    def current(self, boards: Collection[str] = ()) -> list[WindowKey]:
        """The newest period of each (board, window kind), boards by name, then daily,
        weekly, all; only the given ``boards`` when any are given."""
        keys = [key for key in self.folded.latest().values() if not boards or key[0] in boards]
        return sorted(keys, key=lambda k: (k[0], _WINDOW_ORDER.get(k[1], 9), k[1]))

    def at(self, now_ms: int, boards: Collection[str] = ()) -> list[tuple[WindowKey, str]]:
        """The windows to draw at wall clock ``now_ms``, each with a label ("" for a
        current window): per board and kind the current period, after the newest earlier
        period seen on the topic (``previous``, or ``closed``) and before a later one
        (``next``: events may be a little ahead of the wall clock)."""
        seen: dict[tuple[str, str], set[str]] = {}
        for board, kind, period in (*self.folded.tops, *self.folded.closed):
            if period is not None:
                seen.setdefault((board, kind), set()).add(period)
        names = {b for b, _ in seen} | {b for b, _, _ in self.folded.tops} | set(self.config.boards)
        shown: list[tuple[WindowKey, str]] = []
        for board in sorted(set(boards) if boards else names):
            for window in current_windows(self.config.for_board(board), now_ms):
                key: WindowKey = (board, window.kind, window.period)
                if window.end is not None:
                    self.window_end.setdefault(key, format_ms(window.end))
                periods = seen.get((board, window.kind), set())
                now = window.period or ""
                earlier = max((p for p in periods if p < now), default=None)
                later = max((p for p in periods if p > now), default=None)
                if earlier is not None:
                    old: WindowKey = (board, window.kind, earlier)
                    shown.append((old, "closed" if old in self.folded.closed else "previous"))
                shown.append((key, ""))
                if later is not None:
                    shown.append(((board, window.kind, later), "next"))
        return shown

    def rollover(self, now_ms: int, boards: Collection[str] = ()) -> tuple[WindowKey, ...]:
        """The current windows at ``now_ms``: when this changes, the screen must be redrawn."""
        return tuple(key for key, label in self.at(now_ms, boards) if not label)


@dataclass(frozen=True)
class Frame:
    text: str
    shown: Shown


def render_frame(
    view: WatchView,
    previous: Shown | None = None,
    *,
    limit: int = 10,
    color: bool = False,
    boards: Collection[str] = (),
    title: str = "",
    now_ms: int | None = None,
) -> Frame:
    """Draw the top ``limit`` of each current window; mark users whose rank improved since
    ``previous`` (the ``shown`` of the last frame). A window absent from ``previous`` gets
    no marks: everything in it would be "new". ``now_ms`` (the wall clock) picks the
    current windows as :meth:`WatchView.at` says; without it, the newest period seen of
    each kind is drawn."""

    def style(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    shown: Shown = {}
    lines: list[str] = []
    if title:
        lines.append(style(_BOLD, title))
    lines.append(
        f"{view.records} records, {len(view.folded.tops)} windows, "
        f"{len(view.folded.closed)} closed" + (f", {view.skipped} skipped" if view.skipped else "")
    )
    if now_ms is None:
        keys = [
            (key, "closed" if key in view.folded.closed else "") for key in view.current(boards)
        ]
    else:
        keys = view.at(now_ms, boards)
    if not keys:
        lines.append("(waiting for rank changes)")
    for key, label in keys:
        board, window, period = key
        if period is None:
            heading = f"{board} / {window}"
        else:
            end = view.window_end.get(key) or "?"
            heading = f"{board} / {window}  period {period}  ends {end}"
        if label:
            heading += f"  ({label})"
        lines.append("")
        lines.append(style(_BOLD, heading))
        before = None if previous is None else previous.get(key)
        ranks: dict[str, int] = {}
        for rank, user, score in view.folded.standings(key)[:limit]:
            ranks[user] = rank
            mark = ""
            if before is not None:
                old = before.get(user)
                if old is None:
                    mark = "▲new"
                elif rank < old:
                    mark = f"▲{old - rank}"
            row = f"  {rank:>4}  {user:<24} {score:>12}  {mark}".rstrip()
            lines.append(style(_GREEN, row) if mark else row)
        if not ranks:
            lines.append(style(_DIM, "  (empty)"))
        shown[key] = ranks
    return Frame("\n".join(lines), shown)


class _Screen:
    """Writes frames: clear + redraw on a terminal, plain frames otherwise."""

    def __init__(self, out: IO[str], tty: bool) -> None:
        self.out = out
        self.tty = tty
        self.frames = 0

    def draw(self, text: str) -> None:
        if self.tty:
            self.out.write(CLEAR + text + "\n")
        else:
            self.out.write(("\n" if self.frames else "") + text + "\n")
        self.out.flush()
        self.frames += 1


async def watch(
    *,
    bootstrap: str,
    topic: str,
    from_beginning: bool = False,
    out: IO[str] | None = None,
    tty: bool | None = None,
    limit: int = 10,
    boards: Collection[str] = (),
    max_seconds: float | None = None,
    min_interval: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
    options: Mapping[str, Any] | None = None,
    config: BoardsConfig | None = None,
    wall_ms: Callable[[], int] | None = None,
) -> WatchView:
    """Consume ``topic`` and redraw until cancelled or ``max_seconds`` have passed.

    ``wall_ms`` (the wall clock in epoch ms) makes the frames show the current windows of
    ``config``'s boards and move on at each window's end; without it, the newest periods.

    The last state is always drawn before returning (when it changed since the last frame),
    so a bounded run ends with a complete frame.
    """
    from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]

    out = sys.stdout if out is None else out
    tty = out.isatty() if tty is None else tty
    screen = _Screen(out, tty)
    view = WatchView(config=config or BoardsConfig())
    title = f"rankstream watch: {topic} on {bootstrap}" + ("  (Ctrl-C to quit)" if tty else "")
    deadline = None if max_seconds is None else clock() + max_seconds
    consumer = AIOKafkaConsumer(
        **{**(options or {}), "bootstrap_servers": bootstrap},  # options: security
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    previous: Shown | None = None
    last_draw = float("-inf")
    dirty = True

    now_ms = None if wall_ms is None else wall_ms()
    periods = None if now_ms is None else view.rollover(now_ms, boards)

    def redraw() -> None:
        nonlocal previous, last_draw, dirty
        frame = render_frame(
            view, previous, limit=limit, color=tty, boards=boards, title=title, now_ms=now_ms
        )
        screen.draw(frame.text)
        previous, last_draw, dirty = frame.shown, clock(), False

    def remaining_ms(default: int) -> int:
        if deadline is None:
            return default
        return max(0, min(default, int((deadline - clock()) * 1000)))

    try:
        await consumer.start()
        waiting_said = False
        while topic not in await consumer.topics():
            if not waiting_said:
                screen.draw(f"waiting for topic {topic!r} to be created on {bootstrap} ...")
                waiting_said = True
            if deadline is not None and clock() >= deadline:
                return view
            await asyncio.sleep(min(1.0, remaining_ms(1000) / 1000))
        consumer.subscribe([topic])
        while deadline is None or clock() < deadline:
            batches = await consumer.getmany(timeout_ms=remaining_ms(200), max_records=5000)
            for messages in batches.values():
                for message in messages:
                    view.apply_raw(message.value)
                    dirty = True
            if wall_ms is not None:  # a window ended (midnight): draw the new period
                now_ms = wall_ms()
                now_periods = view.rollover(now_ms, boards)
                dirty = dirty or now_periods != periods
                periods = now_periods
            if dirty and clock() - last_draw >= min_interval:
                redraw()
        if dirty:
            redraw()
    finally:
        await consumer.stop()
    return view


# --- command line ----------------------------------------------------------------------


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    settings: Settings | None = None,
) -> argparse.ArgumentParser:
    """Register ``rankstream watch`` (``--bootstrap`` and ``--topic`` as for ``demo``)."""
    parser = cliargs.add_kafka_command(
        subparsers,
        "watch",
        settings,
        "changes_topic",
        help="show the live top-10 of every board from the push topic",
        description="Folds the push topic (read_committed) and redraws the current daily, "
        "weekly and all-time top of each board until Ctrl-C. Plain frames when stdout is "
        "not a terminal.",
        topic_help="push topic to read (default: $RANKSTREAM_CHANGES_TOPIC or rank-changes)",
    )
    parser.add_argument(
        "--from-beginning",
        action="store_true",
        help="fold the topic from its start (default: only changes from now on)",
    )
    parser.add_argument(
        "--board",
        action="append",
        default=[],
        metavar="NAME",
        help="show only this board (repeatable; default: all boards)",
    )
    parser.add_argument(
        "--limit", type=cliargs.positive_int, default=10, help="rows per window (default: 10)"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="stop after this many seconds, printing the last frame (for scripts and tests)",
    )
    parser.set_defaults(run=_run_watch)
    return parser


def _run_watch(args: argparse.Namespace) -> int:
    """Exit 1 for a bad setting or boards file or a Kafka error; 0 at the end or on Ctrl-C."""
    return cliargs.run_command(args, lambda settings: _watch(args, settings), status=1)


def _watch(args: argparse.Namespace, settings: Settings) -> int:
    from streams.runtime.kafka_clients import kafka_options

    bootstrap, topic = cliargs.kafka_target(args, settings)
    coro = watch(
        bootstrap=bootstrap,
        topic=topic,
        from_beginning=args.from_beginning,
        limit=args.limit,
        boards=frozenset(args.board),
        max_seconds=args.max_seconds,
        options=kafka_options(settings),
        config=cliargs.load_boards_setting(settings),
        wall_ms=wall_clock_ms,
    )
    return cliargs.run_until_stopped(coro, f"cannot read {topic!r} on {bootstrap}")
