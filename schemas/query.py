"""Response models of the query API (contract section 7). The HTTP layer builds its JSON
from these, ``make schemas`` exports them and ``/openapi.json`` is generated from them
(streams/apps/api/openapi.py), so the docs, the schema files, the document and the answers
cannot drift apart."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntryOut(_Out):
    """One row of standings."""

    rank: int = Field(ge=1, description="1-based, unique (ordinal) rank in the window")
    user: str = Field(description="the user id")
    score: int = Field(description="the user's score in the window")


class WindowOut(_Out):
    """The window an answer is about."""

    window: str = Field(description="daily, weekly or all")
    period: str | None = Field(description="local date of the window's first day; null: all")
    window_start: str | None = Field(description="RFC 3339 UTC instant; null for all")
    window_end: str | None = Field(description="RFC 3339 UTC instant; null for all")
    closes_at: str | None = Field(
        description="window_end + grace: when the watermark closes it; null for all"
    )
    open: bool = Field(
        description="false for a retained closed window; true for an open one, including the "
        "current window before its first event"
    )


class BoardPageOut(WindowOut):
    """``GET /boards/{board}/{window}``"""

    board: str = Field(description="the board")
    size: int = Field(ge=0, description="number of users with a score in the window")
    offset: int = Field(ge=0, description="entries start at rank offset + 1")
    limit: int = Field(ge=1, description="at most this many entries")
    entries: list[EntryOut] = Field(description="the standings from rank offset + 1")


class UserRankOut(WindowOut):
    """``GET /boards/{board}/{window}/users/{user}``"""

    board: str = Field(description="the board")
    user: str = Field(description="the user asked for")
    rank: int = Field(ge=1, description="exact rank among all the window's users")
    score: int = Field(description="the user's score in the window")
    size: int = Field(ge=0, description="number of users with a score in the window")
    neighbors: list[EntryOut] = Field(
        description="up to `around` users on each side, in rank order, the user excluded"
    )


class UserRanksOut(WindowOut):
    """``GET /boards/{board}/{window}/users?ids=a,b`` (or ``?id=a&id=b``): ``null`` rank and
    score for a user with no score in the window."""

    board: str = Field(description="the board")
    size: int = Field(ge=0, description="number of users with a score in the window")
    users: list[UserRankItem] = Field(description="one item per requested id, in order")


class UserRankItem(_Out):
    """One requested user of ``users?ids=``."""

    user: str = Field(description="the requested user id")
    rank: int | None = Field(description="exact rank; null: no score in the window")
    score: int | None = Field(description="score; null: no score in the window")


class BoardOut(_Out):
    """One board of ``GET /boards``."""

    board: str = Field(description="the board")
    aggregate: str = Field(description="sum, max, min or last")
    order: str = Field(description="desc (higher is better) or asc")
    top: int = Field(description="K, the size of the top-K the push topic reports")
    timezone: str = Field(description="IANA time zone of the calendar windows")
    windows: list[str] = Field(description="the board's window kinds")
    current: list[WindowOut] = Field(
        description="per kind (daily, weekly, all), the window that contains the wall clock in "
        "the board's time zone: what a query without period answers, empty until its first event"
    )
    open: list[WindowOut] = Field(
        description="windows the board holds open (with events; yesterday's until its grace "
        "time has passed), latest first per kind, all last"
    )
    retained: list[WindowOut] = Field(description="closed windows still queryable")


class BoardsOut(_Out):
    """``GET /boards``"""

    boards: list[BoardOut] = Field(description="configured boards and boards with data")


class HealthOut(_Out):
    """``GET /healthz``"""

    status: Literal["ready", "recovering"] = Field(
        description="ready: the state of every partition this worker owns is recovered"
    )
    ready: bool = Field(description="status == ready")


class ErrorOut(_Out):
    """Every error answer of the API (4xx)."""

    error: str = Field(description="stable code, e.g. unknown_board, bad_parameter")
    message: str = Field(description="what was wrong, for humans")
    status: int = Field(description="the HTTP status, repeated")


UserRanksOut.model_rebuild()
