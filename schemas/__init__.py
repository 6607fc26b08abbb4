"""Wire-format models of rankstream (pydantic v2) and their exported JSON Schemas.

Only the edges (intake, tests, schema export) import this package; the engine never does.
"""

from schemas.dead_letter import (
    REASONS,
    DeadLetterReplay,
    DeadLetterSource,
    DeadLetterStream,
    Reason,
)
from schemas.push import RankChangeOut, StandingOut, WindowClosedOut
from schemas.score_event import ScoreEventIn

__all__ = [
    "REASONS",
    "DeadLetterReplay",
    "DeadLetterSource",
    "DeadLetterStream",
    "RankChangeOut",
    "Reason",
    "ScoreEventIn",
    "StandingOut",
    "WindowClosedOut",
]
