"""Read-only queries over an engine's state: which window a request means, a page of a
window's standings, one user's exact rank with neighbours, several users' ranks.

"Now" is an argument (``now_ms``, the wall clock in epoch ms), never read here, so the
answers at any instant (just after a midnight, on a DST day) are table-tested.

Pure functions of the engine's store (through :class:`~streams.engine.core.Engine`), so the
HTTP layer stays a thin adapter and the answers are unit-tested against the reference
model. Costs: a page is O(log n + offset-within-bucket + limit) via the rank tree, a
user's rank O(log n + bucket), never a scan of the window.

Errors are :class:`QueryError` with an HTTP-like status and a stable code, so every adapter
reports them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.engine.config import BoardConfig
from streams.engine.core import Engine
from streams.engine.events import Standing, WindowRef
from streams.engine.windows import ALL, KINDS, Calendar

MAX_LIMIT = 1000
MAX_AROUND = 100
MAX_IDS = 100


class QueryError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


Entry = Standing
"""A row of a top-N or around-me page: the same (rank, user, score) as a final standing."""


@dataclass(frozen=True, slots=True)
class UserRank:
    user: str
    rank: int
    score: int
    neighbors: tuple[Entry, ...] = ()


@dataclass(frozen=True, slots=True)
class BoardWindows:
    board: str
    kinds: tuple[str, ...]
    current: tuple[WindowRef, ...]  # per kind, the window that contains ``now_ms``
    open: tuple[WindowRef, ...]  # windows the engine holds open, latest first per kind
    closed: tuple[WindowRef, ...]  # retained closed windows, newest first

    def is_open(self, window: WindowRef) -> bool:
        """Open unless closed: a current window without events is open, as it will be."""
        return window not in self.closed


def current_window(config: BoardConfig, kind: str, now_ms: int) -> WindowRef:
    """The ``kind`` window of a board whose config is ``config`` that contains the wall
    clock ``now_ms``, in the board's time zone: local midnights, the configured weekday."""
    return Calendar(config.timezone, config.week_start).window(kind, now_ms)


def current_windows(config: BoardConfig, now_ms: int) -> tuple[WindowRef, ...]:
    """The current window of every kind the board has, in the order daily, weekly, all."""
    return tuple(current_window(config, kind, now_ms) for kind in config.windows)


def board_windows(engine: Engine, board: str, now_ms: int) -> BoardWindows:
    """The board's window kinds, current, open and retained closed windows at ``now_ms``."""
    if not engine.known(board):
        raise QueryError(404, "unknown_board", f"board {board!r} is not configured and has no data")
    config = engine.config.for_board(board)
    _, open_, closed = engine.windows(board)
    opened = sorted(open_, key=lambda w: (KINDS.index(w.kind), -(w.start or 0)))
    if ALL in config.windows:
        opened.append(WindowRef(ALL, None, None, None))
    old = [w for kind in KINDS for w in reversed(closed.get(kind, []))]
    return BoardWindows(
        board, config.windows, current_windows(config, now_ms), tuple(opened), tuple(old)
    )


def resolve(
    engine: Engine, board: str, kind: str, period: str | None, now_ms: int
) -> tuple[WindowRef, bool]:
    """The window a request names and whether it is open.

    ``period`` None means *now*: the window of that kind that contains the wall clock
    ``now_ms`` in the board's time zone, whether or not any event has reached it (then its
    standings are empty), never the last window that had events: a board idle since last
    month shows today, empty. A named ``period`` is the current one, an open one (such as
    yesterday's, still in its grace time) or a retained closed one; anything else is 404.
    """
    info = board_windows(engine, board, now_ms)
    if kind not in KINDS:
        raise QueryError(
            404, "unknown_window", f"window must be one of {', '.join(KINDS)}, not {kind!r}"
        )
    if kind not in info.kinds:
        raise QueryError(
            404,
            "unknown_window",
            f"board {board!r} has no {kind} window (it has {', '.join(info.kinds)})",
        )
    if kind == ALL:
        if period is not None:
            raise QueryError(404, "unknown_period", "the all window has no period")
        return WindowRef(ALL, None, None, None), True
    if period is None:
        window = next(w for w in info.current if w.kind == kind)
        return window, info.is_open(window)
    for window in (*info.current, *info.open, *info.closed):
        if window.kind == kind and window.period == period:
            return window, info.is_open(window)
    raise QueryError(
        404,
        "unknown_period",
        f"no {kind} window with period {period!r} on board {board!r} (current, open or retained)",
    )


def window_size(engine: Engine, board: str, window: WindowRef) -> int:
    """Number of users with a score in the window."""
    return engine.window_size(board, window)


def page(engine: Engine, board: str, window: WindowRef, offset: int, limit: int) -> list[Entry]:
    """Standings at ranks ``offset + 1`` .. ``offset + limit``."""
    _check_range("offset", offset, 0, None)
    _check_range("limit", limit, 1, MAX_LIMIT)
    return [
        Entry(offset + n, user, score)
        for n, (user, score) in enumerate(engine.page(board, window, offset, limit), 1)
    ]


def user_rank(
    engine: Engine, board: str, window: WindowRef, user: str, around: int = 0
) -> UserRank | None:
    """The user's exact rank among all the window's users, with ``around`` neighbours on
    each side (the user excluded), or None when the user has no score there."""
    _check_range("around", around, 0, MAX_AROUND)
    found = engine.user_rank(board, window, user)  # RuntimeError if index and states disagree
    if found is None:
        return None
    rank, score = found
    neighbors: tuple[Entry, ...] = ()
    if around:
        first = max(0, rank - 1 - around)
        rows = page(engine, board, window, first, rank + around - first)
        neighbors = tuple(row for row in rows if row.rank != rank)
    return UserRank(user, rank, score, neighbors)


def users_ranks(
    engine: Engine, board: str, window: WindowRef, users: list[str]
) -> list[UserRank | None]:
    """Each user's rank and score (None: no score in the window), in request order."""
    if not users:
        raise QueryError(400, "bad_parameter", "ids: give at least one user id")
    if len(users) > MAX_IDS:
        raise QueryError(400, "bad_parameter", f"ids: at most {MAX_IDS} user ids, got {len(users)}")
    return [user_rank(engine, board, window, user) for user in users]


def _check_range(name: str, value: int, low: int, high: int | None) -> None:
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f">= {low}"
        raise QueryError(400, "bad_parameter", f"{name}: must be an integer {bound}, got {value}")
