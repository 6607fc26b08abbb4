"""Response models of the query API (contract section 7). The HTTP layer builds its JSON
from these, and ``make schemas`` exports them, so the docs, the schema files and the
answers cannot drift apart."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntryOut(_Out):
    rank: int = Field(ge=1, description="1-based, unique (ordinal) rank in the window")
    user: str
    score: int


class WindowOut(_Out):
    window: str = Field(description="daily, weekly or all")
    period: str | None = Field(description="local date of the window's first day; null: all")
    window_start: str | None = Field(description="RFC 3339 UTC instant; null for all")
    window_end: str | None = Field(description="RFC 3339 UTC instant; null for all")
    closes_at: str | None = Field(
        description="window_end + grace: when the watermark closes it; null for all"
    )
    open: bool = Field(description="false for a retained closed window")


class BoardPageOut(WindowOut):
    """``GET /boards/{board}/{window}``"""

    board: str
    size: int = Field(ge=0, description="number of users with a score in the window")
    offset: int = Field(ge=0)
    limit: int = Field(ge=1)
    entries: list[EntryOut]


class UserRankOut(WindowOut):
    """``GET /boards/{board}/{window}/users/{user}``"""

    board: str
    user: str
    rank: int = Field(ge=1, description="exact rank among all the window's users")
    score: int
    size: int = Field(ge=0)
    neighbors: list[EntryOut] = Field(
        description="up to `around` users on each side, in rank order, the user excluded"
    )


class UserRanksOut(WindowOut):
    """``GET /boards/{board}/{window}/users?ids=a,b``: ``null`` rank and score for a user
    with no score in the window."""

    board: str
    size: int = Field(ge=0)
    users: list[UserRankItem]


class UserRankItem(_Out):
    user: str
    rank: int | None
    score: int | None


class BoardOut(_Out):
    board: str
    aggregate: str
    order: str
    top: int
    timezone: str
    windows: list[str] = Field(description="the board's window kinds")
    open: list[WindowOut] = Field(description="open windows, latest first per kind")
    retained: list[WindowOut] = Field(description="closed windows still queryable")


class BoardsOut(_Out):
    """``GET /boards``"""

    boards: list[BoardOut]


class ErrorOut(_Out):
    """Every 4xx/5xx answer of the API."""

    error: str = Field(description="stable code, e.g. unknown_board, bad_parameter")
    message: str = Field(description="what was wrong, for humans")
    status: int


UserRanksOut.model_rebuild()
