"""Deterministic generator of score-event JSONL (contract section 1) for benchmarks and tests.

Usable as a module (:func:`iter_lines`, :func:`generate`, :func:`write_events`) and as a CLI::

    python -m bench.gen_events --events 200000 --users 100000 --boards 10 --seed 1 > events.jsonl

The same arguments always produce the same bytes (one ``random.Random(seed)`` drives
everything; nothing depends on the wall clock or on hash randomisation).

Shape of the stream:

* users are drawn from a Zipf-like distribution (weight ``1 / rank**zipf``); the popular
  ranks are scattered over the user names by a fixed bijection so that the heavy users are
  not simply the alphabetically first ones; a few user names are non-ASCII;
* boards are named ``arena``, ``speedrun``, ``likes``, ``b3``, ``b4``, ... and chosen with a
  mild skew (``arena`` busiest); the first ten match ``bench/boards.toml``
  (:data:`BOARD_SPECS`), further ones use the ``[defaults]`` (``sum``);
* event time advances linearly over ``span_hours`` (default 216 h = 9 days, so daily and
  weekly windows roll over), with ~12 % of the events jittered up to 4 minutes back
  (out of order, mostly inside the 300 s grace);
* scores are positive ints shaped per aggregate (points for ``sum``, lap times in ms for
  ``min``, ...), with ~6 % negative ones on ``sum`` boards;
* ``ts`` alternates between integer epoch milliseconds and RFC 3339 strings, with ``Z`` or
  an offset (``+02:00``, ``-05:00``, ``+09:00``, ``+05:30``), with or without millis;
* ~4 % of the events carry unknown extra fields, which the contract says are ignored.

With ``mix_invalid`` about ``invalid_rate`` of the lines are replaced, in a shuffled cycle so
that every kind appears once ``events`` is a few hundred, by one of :data:`SPECIAL_KINDS`
(well-formed but special: exact duplicates, late and very late events) or
:data:`INVALID_KINDS` (dead letters per the contract; ``blank`` lines are skipped by the
reader). ``events`` counts every line written, whatever its kind.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import random
import sys
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from bench.boardspecs import (
    BOARD_SPECS,
    DEFAULTS,
    MAX_FUTURE_SECONDS,
    BoardSpec,
    aggregate_of,
    board_names,
    render_boards_toml,
)
from bench.event_lines import (
    DAY_MS,
    HOUR_MS,
    INVALID_KINDS,
    MAX_SCORE,
    MINUTE_MS,
    MIX_KINDS,
    SPECIAL_KINDS,
    VALID_KIND,
    dump,
    format_instant,
    invalid_line,
    parse_instant,
    random_score,
    ts_value,
    user_name,
)

# The line kinds, board specs and instant helpers live in event_lines.py and boardspecs.py;
# they stay importable from here, where benchmarks and tests have always found them.
__all__ = [
    "BOARD_SPECS",
    "DAY_MS",
    "DEFAULTS",
    "DEFAULT_SPAN_HOURS",
    "DEFAULT_START",
    "HOUR_MS",
    "INVALID_KINDS",
    "MAX_FUTURE_SECONDS",
    "MAX_SCORE",
    "MINUTE_MS",
    "MIX_KINDS",
    "SPECIAL_KINDS",
    "VALID_KIND",
    "BoardSpec",
    "GenConfig",
    "GenSummary",
    "aggregate_of",
    "board_names",
    "config_from_args",
    "format_instant",
    "generate",
    "iter_lines",
    "main",
    "parse_instant",
    "render_boards_toml",
    "user_name",
    "write_events",
]

DEFAULT_START = "2026-11-20T00:00:00Z"
DEFAULT_SPAN_HOURS = 216.0


@dataclass
class GenConfig:
    """Parameters of one generated stream; the same config always yields the same bytes."""

    events: int = 10_000
    users: int = 10_000
    boards: int = 10
    seed: int = 1
    start_ms: int = parse_instant(DEFAULT_START)
    span_hours: float = DEFAULT_SPAN_HOURS
    now_ms: int | None = None  # default: one hour after the last in-order event
    mix_invalid: bool = False
    invalid_rate: float = 0.05
    zipf: float = 1.0

    @property
    def end_ms(self) -> int:
        return self.start_ms + int(self.span_hours * HOUR_MS)

    @property
    def effective_now_ms(self) -> int:
        """The wall clock to give ``rankstream replay --now``: after every valid event."""
        return self.now_ms if self.now_ms is not None else self.end_ms + HOUR_MS


@dataclass
class GenSummary:
    """What :func:`write_events` wrote: line counts per kind and the event-time range."""

    lines: int = 0
    bytes: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    min_ts_ms: int | None = None
    max_ts_ms: int | None = None
    now_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "bytes": self.bytes,
            "kinds": dict(sorted(self.kinds.items())),
            "min_ts": None if self.min_ts_ms is None else format_instant(self.min_ts_ms),
            "max_ts": None if self.max_ts_ms is None else format_instant(self.max_ts_ms),
            "now": format_instant(self.now_ms),
        }


class _UserSampler:
    """Zipf-like user picker: rank r has weight 1/(r+1)**s; ranks map to names bijectively."""

    def __init__(self, users: int, s: float, rng: random.Random) -> None:
        self.users = users
        self.cum = list(itertools.accumulate((r + 1) ** -s for r in range(users)))
        self.total = self.cum[-1]
        # A multiplicative bijection of 0..users-1 scatters the popular ranks over the names.
        step = int(users * 0.618_033_988_75) | 1
        while math.gcd(step, users) != 1:
            step += 2
        self.step = step
        self.shift = rng.randrange(users)
        self.rng = rng

    def pick(self) -> str:
        rank = bisect.bisect(self.cum, self.rng.random() * self.total, 0, self.users - 1)
        return user_name((rank * self.step + self.shift) % self.users)


def iter_lines(cfg: GenConfig) -> Iterator[tuple[str, bytes, int | None]]:
    """Yield ``(kind, line, ts_ms)`` for each line, without the trailing newline.

    ``ts_ms`` is the event time of well-formed events (``valid`` and :data:`SPECIAL_KINDS`)
    and ``None`` for the others.
    """
    if cfg.events < 0 or cfg.users < 1 or cfg.boards < 1:
        raise ValueError("need events >= 0, users >= 1, boards >= 1")
    rng = random.Random(cfg.seed)
    names = board_names(cfg.boards)
    aggregates = [aggregate_of(b) for b in names]
    board_cum = list(itertools.accumulate((i + 1) ** -0.5 for i in range(cfg.boards)))
    sampler = _UserSampler(cfg.users, cfg.zipf, rng)
    span_ms = cfg.end_ms - cfg.start_ms
    now_ms = cfg.effective_now_ms
    watermark: dict[str, int] = {}
    recent: deque[bytes] = deque(maxlen=4096)
    mix_cycle: list[str] = []
    seq = 0

    def event(board_i: int, ts_ms: int) -> tuple[dict[str, Any], int]:
        nonlocal seq
        seq += 1
        board = names[board_i]
        user = sampler.pick()
        score = random_score(rng, aggregates[board_i])
        ts, ts_ms = ts_value(rng, ts_ms)
        obj: dict[str, Any] = {
            "event_id": f"e{cfg.seed}-{seq}",
            "board": board,
            "user": user,
            "score": score,
            "ts": ts,
        }
        if rng.random() < 0.04:
            obj["source"] = {"game": f"g{rng.randrange(9)}", "region": "eu"}
        return obj, ts_ms

    def pick_board() -> int:
        return bisect.bisect(board_cum, rng.random() * board_cum[-1], 0, cfg.boards - 1)

    for i in range(cfg.events):
        base = cfg.start_ms + (span_ms * i) // max(cfg.events, 1)
        kind = VALID_KIND
        if cfg.mix_invalid and i > 0 and rng.random() < cfg.invalid_rate:
            if not mix_cycle:
                mix_cycle = list(MIX_KINDS)
                rng.shuffle(mix_cycle)
            kind = mix_cycle.pop()
        if kind == "duplicate" and recent:
            yield kind, recent[rng.randrange(len(recent))], None
            continue
        if kind in ("late", "very_late"):
            board_i = pick_board()
            wm = watermark.get(names[board_i])
            if wm is not None:
                if kind == "late":
                    back = rng.randint(DAY_MS, 3 * DAY_MS)
                else:
                    back = rng.randint(8 * DAY_MS, 20 * DAY_MS)
                obj, ts_ms = event(board_i, wm - back)
                yield kind, dump(obj), ts_ms
                continue
        elif kind not in (VALID_KIND, "duplicate"):
            yield kind, invalid_line(kind, rng, event(pick_board(), base)[0], now_ms), None
            continue
        # An ordinary event (also the fallback when a special kind has nothing to refer to).
        ts_ms = base
        if rng.random() < 0.12:
            ts_ms -= rng.randint(1, 4 * MINUTE_MS)
        board_i = pick_board()
        obj, ts_ms = event(board_i, ts_ms)
        line = dump(obj)
        board = names[board_i]
        if ts_ms > watermark.get(board, ts_ms - 1):
            watermark[board] = ts_ms
        recent.append(line)
        yield VALID_KIND, line, ts_ms


def write_events(cfg: GenConfig, out: IO[bytes]) -> GenSummary:
    """Write the JSONL stream of ``cfg`` to ``out`` (binary) and summarise it."""
    summary = GenSummary(now_ms=cfg.effective_now_ms)
    chunk: list[bytes] = []
    for kind, line, ts_ms in iter_lines(cfg):
        summary.lines += 1
        summary.bytes += len(line) + 1
        summary.kinds[kind] += 1
        if ts_ms is not None:
            if summary.min_ts_ms is None or ts_ms < summary.min_ts_ms:
                summary.min_ts_ms = ts_ms
            if summary.max_ts_ms is None or ts_ms > summary.max_ts_ms:
                summary.max_ts_ms = ts_ms
        chunk.append(line)
        if len(chunk) >= 4096:
            out.write(b"\n".join(chunk) + b"\n")
            chunk.clear()
    if chunk:
        out.write(b"\n".join(chunk) + b"\n")
    return summary


def generate(cfg: GenConfig) -> bytes:
    """The whole stream of ``cfg`` as bytes (convenient for tests and small sizes)."""
    return b"".join(line + b"\n" for _, line, _ in iter_lines(cfg))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.gen_events",
        description="Write deterministic score-event JSONL to stdout.",
    )
    p.add_argument("--events", type=int, default=10_000, help="lines to write (all kinds)")
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--boards", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--start", default=DEFAULT_START, help="event time of the first event")
    p.add_argument("--span-hours", type=float, default=DEFAULT_SPAN_HOURS)
    p.add_argument(
        "--now",
        default=None,
        help="wall clock for 'future' events (default: span end + 1 h); "
        "pass the same value to `rankstream replay --now`",
    )
    p.add_argument("--mix-invalid", action="store_true", help="mix in dups/late/invalid lines")
    p.add_argument("--invalid-rate", type=float, default=0.05)
    p.add_argument("--zipf", type=float, default=1.0, help="user skew exponent")
    p.add_argument("--summary", action="store_true", help="print a JSON summary to stderr")
    p.add_argument(
        "--write-boards",
        metavar="PATH",
        help="write the matching boards.toml to PATH and exit",
    )
    return p


def config_from_args(args: argparse.Namespace) -> GenConfig:
    return GenConfig(
        events=args.events,
        users=args.users,
        boards=args.boards,
        seed=args.seed,
        start_ms=parse_instant(args.start),
        span_hours=args.span_hours,
        now_ms=None if args.now is None else parse_instant(args.now),
        mix_invalid=args.mix_invalid,
        invalid_rate=args.invalid_rate,
        zipf=args.zipf,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.write_boards:
        with open(args.write_boards, "w", encoding="utf-8") as fh:
            fh.write(render_boards_toml())
        return 0
    try:
        cfg = config_from_args(args)
        summary = write_events(cfg, sys.stdout.buffer)
    except ValueError as exc:
        print(f"gen_events: {exc}", file=sys.stderr)
        return 2
    sys.stdout.buffer.flush()
    if args.summary:
        print(json.dumps(summary.to_json()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
