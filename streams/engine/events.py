"""The engine's own value types: one validated input event and the records it emits.

These are plain NamedTuples and dataclasses rather than pydantic models so that the engine stays
import-free of the validation layer; ``schemas/`` mirrors the wire shape of each record
and a unit test checks the two never drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any, NamedTuple

from schemas.timefmt import format_ms


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


class RankChange(NamedTuple):
    """One user's rank or score moved inside a window's top-K because of ``cause``.

    Replay creates several per event, so this is a NamedTuple (C-level construction).
    """

    board: str
    window: WindowRef
    user: str
    old_rank: int | None
    new_rank: int | None
    score: int
    cause: str

    def to_json(self) -> str:
        """Compact JSON equal to ``dumps(to_wire())``, built from the window's cached prefix
        because serialising records is most of replay's cost."""
        return (
            f"{_prefix('rank_change', self.board, self.window)},"
            f'"user":{encode_basestring(self.user)},'
            f'"old_rank":{_rank(self.old_rank)},"new_rank":{_rank(self.new_rank)},'
            f'"score":{self.score},"cause":{encode_basestring(self.cause)}}}'
        )

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

    def to_json(self) -> str:
        return dumps(self.to_wire())


Record = RankChange | WindowClosed

#: The one JSON style of every record rankstream writes: compact, UTF-8 kept as is.
dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@lru_cache(maxsize=4096)
def _prefix(record_type: str, board: str, window: WindowRef) -> str:
    return dumps({"type": record_type, **window.wire(board)})[:-1]


def _rank(rank: int | None) -> str:
    return "null" if rank is None else str(rank)
