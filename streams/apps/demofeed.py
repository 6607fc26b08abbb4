"""The event stream of ``rankstream demo`` (what the feed looks like; see demo.py).

Pure and broker-free on purpose: driven by an injected clock and ``random.Random``, it is
deterministic, so tests check its shape without Kafka, and it imports no Kafka client.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NamedTuple

from schemas.timefmt import format_ms

__all__ = [
    "BOARDS",
    "INVALID_LINE",
    "NAMES",
    "DemoBoard",
    "DemoConfig",
    "Message",
    "iter_messages",
    "user_names",
]

#: Names of the first users; later users are numbered variants (``ada2``, ``grace2``, ...).
NAMES: tuple[str, ...] = (
    "ada", "grace", "linus", "alan", "barbara", "dennis", "edsger", "frances", "guido",
    "hedy", "ken", "margaret", "radia", "tim", "donald", "katherine", "john", "bjarne",
    "anders", "yukihiro", "sophie", "niklaus", "leslie", "shafi", "joan", "rasmus", "ivan",
    "lynn", "karen", "whitfield", "dorothy", "vint", "annie", "fran", "jean", "mary",
    "rob", "brian", "charles", "zoë",
)  # fmt: skip

#: The plain-text line ``--invalid-every`` mixes in (the job dead-letters it as bad JSON).
INVALID_LINE = b"User Score Update"

_OFFSETS: tuple[timedelta, ...] = (
    timedelta(hours=1),
    timedelta(hours=-5),
    timedelta(hours=9),
    timedelta(hours=5, minutes=30),
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoBoard:
    """One demo board: its name, how its scores look and its share of the traffic."""

    name: str
    kind: str  # "points" | "lap_ms" | "likes"
    weight: float


BOARDS: tuple[DemoBoard, ...] = (
    DemoBoard("arena", "points", 0.5),
    DemoBoard("speedrun", "lap_ms", 0.2),
    DemoBoard("likes", "likes", 0.3),
)


@dataclass(frozen=True)
class DemoConfig:
    """What the event stream looks like (the rate is the producer loop's business)."""

    users: int = 200
    invalid_every: int | None = None
    zipf: float = 1.0

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError(f"users must be at least 1, got {self.users}")
        if self.invalid_every is not None and self.invalid_every < 1:
            raise ValueError(f"invalid_every must be at least 1, got {self.invalid_every}")


class Message(NamedTuple):
    """One Kafka message: ``key`` is the board (``None`` for an invalid line)."""

    key: bytes | None
    value: bytes
    valid: bool


def user_names(count: int) -> list[str]:
    """``count`` distinct human-looking names: :data:`NAMES`, then ``ada2``, ``grace2``..."""
    return [
        NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else str(i // len(NAMES) + 1))
        for i in range(count)
    ]


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _ts_value(rng: random.Random, ms: int) -> int | str:
    """A wire form of ``ms``: epoch ms (50 %), RFC 3339 ``Z`` (30 %), with an offset (20 %)."""
    r = rng.random()
    if r < 0.5:
        return ms
    if r < 0.8:
        return format_ms(ms)
    offset = _OFFSETS[rng.randrange(len(_OFFSETS))]
    local = (_EPOCH + timedelta(milliseconds=ms)).astimezone(timezone(offset))
    return local.isoformat(timespec="milliseconds")


def iter_messages(
    config: DemoConfig, clock: Callable[[], int], rng: random.Random
) -> Iterator[Message]:
    """The endless demo stream; ``clock()`` is the wall clock in epoch ms (event time).

    Deterministic for a given config, rng state and sequence of clock readings. The clock
    is read once per message, when the message is generated, so a paced consumer of this
    generator gets event times equal to the send times.
    """
    names = user_names(config.users)
    rng.shuffle(names)  # which names are the busy ones depends on the seed
    user_cum = list(itertools.accumulate((r + 1) ** -config.zipf for r in range(config.users)))
    board_cum = list(itertools.accumulate(board.weight for board in BOARDS))
    # Each user's typical lap on speedrun (ms): the busy players are not always the fastest.
    skill = {name: rng.randint(55_000, 140_000) for name in names}
    run_id = f"demo-{_base36(clock())}-{rng.getrandbits(24):06x}"
    for n in itertools.count(1):
        if config.invalid_every is not None and n % config.invalid_every == 0:
            yield Message(None, INVALID_LINE, False)
            continue
        board = BOARDS[bisect.bisect(board_cum, rng.random() * board_cum[-1], 0, len(BOARDS) - 1)]
        user = names[bisect.bisect(user_cum, rng.random() * user_cum[-1], 0, config.users - 1)]
        ms = clock()
        if rng.random() < 0.1:
            ms -= rng.randint(1, 3000)
        event: dict[str, Any] = {
            "event_id": f"{run_id}-{n}",
            "board": board.name,
            "user": user,
            "score": _score(rng, board.kind, skill[user]),
            "ts": _ts_value(rng, ms),
        }
        value = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        yield Message(board.name.encode(), value, True)


def _score(rng: random.Random, kind: str, skill_ms: int) -> int:
    if kind == "points":
        if rng.random() < 0.06:
            return -rng.randint(5, 50)  # a penalty
        return rng.choice((10, 10, 25, 25, 50, 100)) + rng.randint(0, 9)
    if kind == "lap_ms":
        return max(30_000, int(rng.gauss(skill_ms, skill_ms * 0.08)))
    return rng.choice((1, 1, 1, 1, 2, 3))  # likes
