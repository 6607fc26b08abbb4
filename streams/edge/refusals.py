"""Dead letters for events the engine refused after validation (``future``, ``too_old``).

One wording for replay's ``--dlq`` and the stream job's DLQ topic; the reason codes are
the stable ones of :mod:`schemas.dead_letter`.
"""

from __future__ import annotations

from streams.edge.validation import Rejection
from streams.engine.config import BoardsConfig
from streams.engine.core import Outcome


def future(config: BoardsConfig) -> Rejection:
    """The dead letter of an event whose ``ts`` is too far ahead of the wall clock."""
    return Rejection(
        "future", f"ts is more than {config.max_future_seconds}s ahead of the wall clock"
    )


def refusal(outcome: Outcome, config: BoardsConfig, board: str) -> Rejection | None:
    """The dead letter of an event the engine refused, else None (applied or duplicate)."""
    if outcome is Outcome.FUTURE:
        return future(config)
    if outcome is Outcome.TOO_OLD:
        horizon = config.for_board(board).dedup_seconds
        return Rejection(
            "too_old",
            f"ts is more than dedup_seconds ({horizon}s) behind board {board!r}'s watermark: "
            "too old to be checked for duplicates, so it is applied to no window",
        )
    return None
