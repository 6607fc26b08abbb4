"""The engine's own value types: one validated input event and the records it emits.

These are plain slotted dataclasses rather than pydantic models so that the engine stays
import-free of the validation layer; ``schemas/`` mirrors the wire shape of each record
and a unit test checks the two never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .timefmt import format_ms


@dataclass(frozen=True, slots=True)
class ScoreEvent:
    """A score event that already passed validation at the edge (contract section 1).

    ``ts`` is event time in epoch milliseconds, whatever form the wire used.
    """

    event_id: str
    board: str
    user: str
    score: int
    ts: int


@dataclass(frozen=True, slots=True)
class WindowRef:
    """One concrete window: its kind, period name and UTC bounds (None for ``all``)."""

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


@dataclass(frozen=True, slots=True)
class RankChange:
    """One user's rank or score moved inside a window's top-K because of ``cause``."""

    board: str
    window: WindowRef
    user: str
    old_rank: int | None
    new_rank: int | None
    score: int
    cause: str

    def to_wire(self) -> dict[str, Any]:
        record: dict[str, Any] = {"type": "rank_change"}
        record.update(self.window.wire(self.board))
        record["user"] = self.user
        record["old_rank"] = self.old_rank
        record["new_rank"] = self.new_rank
        record["score"] = self.score
        record["cause"] = self.cause
        return record


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


Record = RankChange | WindowClosed
