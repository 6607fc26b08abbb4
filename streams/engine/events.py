"""The engine's own value types: one validated input event and the records it emits.

These are plain NamedTuples and dataclasses rather than pydantic models so that the engine stays
import-free of the validation layer; ``schemas/`` mirrors the wire shape of each record
and a unit test checks the two never drift apart. ``RankChange``, the record replay makes
several of per event, is built by the compiled engine (``rust/src/py.rs``), which also writes
its JSON; the window part of that JSON comes from :func:`_prefix` here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any, NamedTuple, TypeAlias

from schemas.timefmt import format_ms
from streams.engine._core import RankChange

__all__ = [
    "Outcome",
    "RankChange",
    "Record",
    "ScoreEvent",
    "Standing",
    "WindowClosed",
    "WindowRef",
    "dumps",
]


class ScoreEvent(NamedTuple):
    """A score event that already passed validation at the edge (contract section 1).

    ``ts`` is event time in epoch milliseconds, whatever form the wire used.
    """

    event_id: str
    board: str
    user: str
    score: int
    ts: int


class WindowRef(NamedTuple):
    """One concrete window: its kind, period name and UTC bounds (None for ``all``).

    A NamedTuple rather than a dataclass: it is hashed for every record and event, and a
    tuple's hash and equality run in C.
    """

    kind: str
    period: str | None
    start: int | None
    end: int | None

    def wire(self, board: str) -> dict[str, Any]:
        return {
            "board": board,
            "window": self.kind,
            "period": self.period,
            "window_start": None if self.start is None else format_ms(self.start),
            "window_end": None if self.end is None else format_ms(self.end),
        }


class Outcome(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    FUTURE = "future"
    TOO_OLD = "too_old"  # behind the dedup horizon: applied nowhere, a dead letter


@dataclass(frozen=True, slots=True)
class Standing:
    rank: int
    user: str
    score: int


@dataclass(frozen=True, slots=True)
class WindowClosed:
    """Final top-K of a window, emitted once when the board's watermark passes its grace."""

    board: str
    window: WindowRef
    standings: tuple[Standing, ...]

    def to_wire(self) -> dict[str, Any]:
        record: dict[str, Any] = {"type": "window_closed"}
        record.update(self.window.wire(self.board))
        record["standings"] = [
            {"rank": s.rank, "user": s.user, "score": s.score} for s in self.standings
        ]
        return record

    def to_json(self) -> str:
        return dumps(self.to_wire())


Record: TypeAlias = "RankChange | WindowClosed"

#: The one JSON style of every record rankstream writes: compact, UTF-8 kept as is.
dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@lru_cache(maxsize=4096)
def _prefix(record_type: str, board: str, window: WindowRef) -> str:
    return dumps({"type": record_type, **window.wire(board)})[:-1]
