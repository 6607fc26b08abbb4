"""Push-topic records (contract section 3) as pydantic models.

The engine builds these records itself (``RankChange.to_wire`` / ``WindowClosed.to_wire``)
without pydantic; these models exist to publish their JSON Schema to consumers and to let
a unit test prove the engine's output still matches it. ``extra="forbid"`` is deliberate:
the contract lets fields be added, but an addition must be made here too (and re-exported),
so the drift test fails until it is.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

WindowKind = Literal["daily", "weekly", "all"]

_OUT_CONFIG = ConfigDict(strict=True, extra="forbid", frozen=True)

_PERIOD = r"^\d{4}-\d{2}-\d{2}$"
_INSTANT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$"
"""The exact shape ``timefmt.format_ms`` writes, so consumers may parse it strictly."""

_PERIOD_DOC = "Local date (YYYY-MM-DD) of the window's first day; null for 'all'."
_START_DOC = "Window start as an RFC 3339 UTC instant; null for 'all'."
_END_DOC = "Window end (exclusive) as an RFC 3339 UTC instant; null for 'all'."


def _check_window_shape(
    window: str, period: str | None, start: str | None, end: str | None
) -> None:
    """``all`` is the only window without a period and bounds; never a mix of the two.

    A record that mixed them would make consumers' fold key (board, window, period)
    ambiguous, so it is rejected even though JSON Schema cannot express the rule.
    """
    parts = (period, start, end)
    if window == "all":
        if any(part is not None for part in parts):
            raise ValueError("the 'all' window has null period, window_start and window_end")
    elif any(part is None for part in parts):
        raise ValueError(f"a {window} window needs period, window_start and window_end")


class StandingOut(BaseModel):
    """One row of a closed window's final top-K."""

    model_config = _OUT_CONFIG

    rank: int = Field(ge=1, description="1-based ordinal rank; unique within the window.")
    user: str = Field(description="The user id, as sent in the score events.")
    score: int = Field(description="The user's final score in the window.")


class _WindowRecord(BaseModel):
    """The fields every push record starts with: its type and the window it is about.

    Subclasses narrow ``type`` to their literal; pydantic keeps an overridden field in the
    base's position, so ``type`` stays the first property of each exported schema.
    """

    model_config = _OUT_CONFIG

    type: str = Field(description="Record type discriminator.")
    board: str = Field(description="The board; also the Kafka record key.")
    window: WindowKind = Field(description="Window kind: daily, weekly or all.")
    period: str | None = Field(pattern=_PERIOD, description=_PERIOD_DOC)
    window_start: str | None = Field(pattern=_INSTANT, description=_START_DOC)
    window_end: str | None = Field(pattern=_INSTANT, description=_END_DOC)


class RankChangeOut(_WindowRecord):
    """A user's rank or score changed inside a window's top-K because of one event.

    Folding these per (board, window, period), applying all changes of one cause
    together, rebuilds the top-K exactly.
    """

    type: Literal["rank_change"] = Field(description="Record type discriminator.")
    user: str = Field(description="The user whose rank or score changed.")
    old_rank: int | None = Field(
        ge=1, description="Rank before the event; null if the user was not in the top-K."
    )
    new_rank: int | None = Field(
        ge=1, description="Rank after the event; null if the user left the top-K."
    )
    score: int = Field(description="The user's score in this window after the event.")
    cause: str = Field(description="event_id of the score event that caused the change.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_window_shape(self.window, self.period, self.window_start, self.window_end)
        if self.old_rank is None and self.new_rank is None:
            raise ValueError("old_rank and new_rank cannot both be null")
        return self


class WindowClosedOut(_WindowRecord):
    """A window closed (watermark passed its end plus grace); these are its final standings."""

    type: Literal["window_closed"] = Field(description="Record type discriminator.")
    standings: list[StandingOut] = Field(description="Final top-K in rank order, rank 1 first.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_window_shape(self.window, self.period, self.window_start, self.window_end)
        ranks = [standing.rank for standing in self.standings]
        if ranks != list(range(1, len(ranks) + 1)):
            raise ValueError("standings must be ranked 1, 2, 3, ... in order")
        return self
