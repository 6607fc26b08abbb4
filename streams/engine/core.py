"""The ranking engine: one validated event in, the push-topic records it causes out.

Every decision of contract sections 1-3 that needs state is made here, against a
:class:`~streams.engine.storage.Store`, with the wall clock injected so that replay, tests
and the stream job agree. Per-board metadata and each window's top-K are cached in RAM;
both are bounded by boards and K (never by users) and are rebuilt from the store on a miss,
so :meth:`Engine.drop_caches` makes the engine safe to use after the store changed under it
(a Faust rebalance).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from streams.engine.aggregates import fold
from streams.engine.codec import board_space, decode_state, encode_state, index_key, window_space
from streams.engine.config import BoardConfig, BoardsConfig
from streams.engine.dedup import EVENT_BUDGET, Dedup
from streams.engine.events import Record, ScoreEvent, Standing, WindowClosed, WindowRef
from streams.engine.ranktree import NodeCache, RankTree
from streams.engine.storage import Store
from streams.engine.topk import TopK
from streams.engine.windows import ALL, KINDS, Calendar

_WATERMARK = b"watermark"
_WINDOWS = b"windows"
#: Space listing every board with state (key: board name), for queries.
BOARDS_SPACE = b"B"


def is_future(ts: int, now_ms: int, max_future_seconds: int) -> bool:
    """The future rule of contract section 1; edges call it to dead-letter early."""
    return ts > now_ms + max_future_seconds * 1000


class Outcome(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    FUTURE = "future"
    TOO_OLD = "too_old"  # behind the dedup horizon: applied nowhere, a dead letter


#: Dedup clean-up budget (ids) of one idle close of one board.
IDLE_BUDGET = 20_000


@dataclass(slots=True)
class Result:
    outcome: Outcome
    records: list[Record] = field(default_factory=list)
    late: list[str] = field(default_factory=list)  # window kinds the event was late for
    closed: int = 0  # windows this event closed (their WindowClosed records are in records)


class _Spaces:
    """A window's store spaces, its cached top-K and its rank tree (ranktree.py), looked
    up once per window and event."""

    __slots__ = ("index", "top", "tree", "tree_space", "users")

    def __init__(self, board: str, window: WindowRef, store: Store, cache: NodeCache) -> None:
        self.users = window_space(b"U", board, window.kind, window.period)
        self.index = window_space(b"I", board, window.kind, window.period)
        self.tree_space = window_space(b"T", board, window.kind, window.period)
        self.tree = RankTree(store, self.tree_space, self.index, cache)
        self.top: TopK | None = None


@dataclass(slots=True)
class _Board:
    """What the engine remembers of one board between events (small, persisted in M)."""

    name: str
    config: BoardConfig
    calendar: Calendar
    grace_ms: int
    descending: bool
    dedup: Dedup
    horizon_ms: int  # dedup horizon, 0: none
    meta_space: bytes
    watermark: int | None
    open: list[WindowRef]  # windows with an applied event that have not closed yet
    closed: dict[str, list[WindowRef]]  # retained closed windows per kind, oldest first
    windows: dict[WindowRef, _Spaces] = field(default_factory=dict)  # cache: open windows
    next_close: float = float("inf")  # the watermark at which the first open window closes

    def plan_close(self) -> None:
        ends = [w.end + self.grace_ms for w in self.open if w.end is not None]
        self.next_close = min(ends, default=float("inf"))


class Engine:
    def __init__(
        self,
        config: BoardsConfig,
        store: Store,
        clock: Callable[[], int],
        tree_cache_nodes: int = 4096,
        ranks: bool = True,
    ) -> None:
        """``clock`` returns the wall clock in epoch milliseconds (for the future rule);
        ``tree_cache_nodes`` bounds the decoded rank-tree nodes kept in RAM. ``ranks=False``
        keeps no rank trees: exact ranks beyond the top-K (queries) are then unavailable,
        the records are the same, and each event costs about a fifth less (replay)."""
        self._ranks = ranks
        self._config = config
        self._store = store
        self._clock = clock
        self._boards: dict[str, _Board] = {}
        self._tree_cache = NodeCache(store, max(64, tree_cache_nodes))

    @property
    def config(self) -> BoardsConfig:
        return self._config

    @property
    def store(self) -> Store:
        return self._store

    def sync(self) -> None:
        """Write the rank trees' pending count changes to the store. Call it before the
        store is persisted (flushed, changelogged); replay and tests need not."""
        self._tree_cache.sync()

    def drop_caches(self) -> None:
        """Forget every cache, unsynced tree counts too: for when the store changed (or
        dropped its unflushed writes) under the engine."""
        self._boards.clear()
        self._tree_cache.clear()

    def apply(self, event: ScoreEvent) -> Result:
        if is_future(event.ts, self._clock(), self._config.max_future_seconds):
            return Result(Outcome.FUTURE)
        store = self._store
        board = self._board(event.board)
        watermark = board.watermark
        dedup = board.dedup
        event_id = event.event_id.encode()
        # A remembered id is a duplicate whatever the ts (contract section 1); only an
        # unknown id behind the horizon is too old to be checked.
        if dedup.seen(event_id, watermark):
            return Result(Outcome.DUPLICATE)
        if board.horizon_ms and watermark is not None and event.ts < watermark - board.horizon_ms:
            return Result(Outcome.TOO_OLD)
        dedup.remember(event_id, event.ts)
        result = Result(Outcome.APPLIED)
        for kind in board.config.windows:
            window = board.calendar.window(kind, event.ts)
            if (
                window.end is not None
                and watermark is not None
                and watermark >= window.end + board.grace_ms
            ):
                result.late.append(kind)
                continue
            self._apply_to_window(board, window, event, result.records)
        if watermark is None or event.ts > watermark:
            if watermark is None:
                store.put(BOARDS_SPACE, board.name.encode(), b"")
            board.watermark = event.ts
            store.put(board.meta_space, _WATERMARK, str(event.ts).encode())
            if event.ts >= board.next_close:
                before = len(result.records)
                self._close_due(board, result.records)
                result.closed = len(result.records) - before
            if event.ts >= dedup.next_expiry:
                dedup.expire(event.ts, EVENT_BUDGET)
        return result

    def advance_watermark(self, board: str, now_ms: int, budget: int = IDLE_BUDGET) -> list[Record]:
        """Idle close of one board (contract section 2): move its watermark up to ``now_ms``
        (never back) and close the windows that are due, exactly as an event with that
        ``ts`` would; returns their :class:`WindowClosed` records. Later events are late,
        or ``too_old``, against the new watermark. Whether the board is idle (and the job
        caught up) is the caller's decision; a board without state is left alone.
        ``budget`` bounds the dedup clean-up this may do (see dedup.py)."""
        state = self._board(board)
        if state.watermark is None or now_ms <= state.watermark:
            return []
        state.watermark = now_ms
        self._store.put(state.meta_space, _WATERMARK, str(now_ms).encode())
        out: list[Record] = []
        if now_ms >= state.next_close:
            self._close_due(state, out)
        if budget and now_ms >= state.dedup.next_expiry:
            state.dedup.expire(now_ms, budget)
        return out

    def close_idle(self, now_ms: int, budget: int = IDLE_BUDGET) -> list[Record]:
        """:meth:`advance_watermark` for every board with state whose ``idle_close_seconds``
        is not 0, in board name order: every board idle at ``now_ms`` (replay's ``--now``
        at the end of its input)."""
        out: list[Record] = []
        for name in self.boards():
            if self._config.for_board(name).idle_close_seconds:
                out += self.advance_watermark(name, now_ms, budget)
        return out

    def closes_by(self, board: str, now_ms: int) -> bool:
        """Whether moving the board's watermark to ``now_ms`` would close a window."""
        return now_ms >= self._board(board).next_close

    def dedup(self, board: str) -> Dedup:
        """The board's dedup set (for tests and benches)."""
        return self._board(board).dedup

    def top(self, board: str, window: WindowRef) -> list[tuple[int, str, int]]:
        """Current (rank, user, score) of a window's top-K, for queries and tests."""
        return self._top(self._board(board), window).standings()

    def boards(self) -> list[str]:
        """Boards with state in this engine's store, in name order."""
        return [key.decode() for key, _ in self._store.scan(BOARDS_SPACE)]

    def known(self, board: str) -> bool:
        """Configured, or has state here; queries check this first so that asking for
        made-up boards never grows the engine's per-board cache."""
        return (
            board in self._boards
            or board in self._config.boards
            or self._store.get(BOARDS_SPACE, board.encode()) is not None
        )

    def windows(self, board: str) -> tuple[int | None, list[WindowRef], dict[str, list[WindowRef]]]:
        """A board's watermark, its open windows and its retained closed windows per kind
        (oldest first), as the engine holds them. Check :meth:`known` first."""
        state = self._board(board)
        return state.watermark, list(state.open), {k: list(v) for k, v in state.closed.items()}

    def window_spaces(self, board: str, window: WindowRef) -> tuple[bytes, bytes, RankTree]:
        """(user-state space, rank-index space, rank tree) of one window, for queries."""
        if not self._ranks:
            raise RuntimeError("this engine keeps no rank trees (ranks=False)")
        state = self._board(board)
        spaces = state.windows.get(window) or self._spaces(state, window)
        return spaces.users, spaces.index, spaces.tree

    def _apply_to_window(
        self, board: _Board, window: WindowRef, event: ScoreEvent, out: list[Record]
    ) -> None:
        store = self._store
        spaces = board.windows.get(window)
        if spaces is None:
            spaces = board.windows[window] = self._spaces(board, window)
        user = event.user.encode()
        descending = board.descending
        raw = store.get(spaces.users, user)
        old = None if raw is None else decode_state(raw, descending)
        new = fold(board.config.aggregate, old, event.score, event.ts, event.event_id)
        if new is None:
            return
        state = encode_state(new, descending)
        store.put(spaces.users, user, state)
        if raw is None and window.kind != ALL and window not in board.open:
            board.open.append(window)
            board.next_close = min(board.next_close, window.end + board.grace_ms)  # type: ignore[operator]
            self._save_windows(board)
        old_key = None if raw is None else index_key(raw, user)
        new_key = index_key(state, user)
        if old_key == new_key:
            return
        index = spaces.index
        top = spaces.top or self._load_top(board, spaces)  # before the write: mirrors old index
        if old_key is not None:
            store.delete(index, old_key)
        store.put(index, new_key, b"")
        if self._ranks:
            spaces.tree.move(old_key, new_key)
        top.move(old_key, new_key, (board.name, window, event.event_id), out)  # type: ignore[arg-type]

    def _close_due(self, board: _Board, out: list[Record]) -> None:
        assert board.watermark is not None
        due = [
            w for w in board.open if w.end is not None and board.watermark >= w.end + board.grace_ms
        ]
        if not due:
            return
        board.open = [w for w in board.open if w not in due]
        board.plan_close()
        due.sort(key=lambda w: (w.end, KINDS.index(w.kind)))
        for window in due:
            top = self._top(board, window)
            standings = tuple(Standing(r, u, s) for r, u, s in top.standings())
            board.windows.pop(window, None)  # closed: no event will touch it again
            out.append(WindowClosed(board.name, window, standings))
            retained = board.closed.setdefault(window.kind, [])
            retained.append(window)
            while len(retained) > board.config.retain:
                self._forget(board, retained.pop(0))
        self._save_windows(board)

    def _forget(self, board: _Board, window: WindowRef) -> None:
        """Retention: a closed window beyond ``retain`` leaves the store entirely."""
        spaces = self._spaces(board, window)
        self._store.drop(spaces.users)
        self._store.drop(spaces.index)
        self._store.drop(spaces.tree_space)
        self._tree_cache.forget(spaces.tree_space)

    def _top(self, board: _Board, window: WindowRef) -> TopK:
        spaces = board.windows.get(window)
        if spaces is None:
            spaces = board.windows[window] = self._spaces(board, window)
        return spaces.top or self._load_top(board, spaces)

    def _spaces(self, board: _Board, window: WindowRef) -> _Spaces:
        return _Spaces(board.name, window, self._store, self._tree_cache)

    def _load_top(self, board: _Board, spaces: _Spaces) -> TopK:
        spaces.top = TopK(self._store, spaces.index, board.config.top, board.descending)
        return spaces.top

    def _board(self, name: str) -> _Board:
        board = self._boards.get(name)
        if board is not None:
            return board
        config = self._config.for_board(name)
        meta = board_space(b"M", name)
        raw_wm = self._store.get(meta, _WATERMARK)
        raw_windows = self._store.get(meta, _WINDOWS)
        saved = json.loads(raw_windows) if raw_windows else {"open": [], "closed": {}}
        board = _Board(
            name=name,
            config=config,
            calendar=Calendar(config.timezone, config.week_start),
            grace_ms=config.grace_seconds * 1000,
            descending=config.order == "desc",
            dedup=Dedup(self._store, name, config.dedup_seconds),
            horizon_ms=config.dedup_seconds * 1000,
            meta_space=meta,
            watermark=None if raw_wm is None else int(raw_wm),
            open=[WindowRef(*w) for w in saved["open"]],
            closed={k: [WindowRef(*w) for w in ws] for k, ws in saved["closed"].items()},
        )
        board.plan_close()
        self._boards[name] = board
        return board

    def _save_windows(self, board: _Board) -> None:
        def row(w: WindowRef) -> list[object]:
            return [w.kind, w.period, w.start, w.end]

        saved = {
            "open": [row(w) for w in board.open],
            "closed": {k: [row(w) for w in ws] for k, ws in board.closed.items()},
        }
        self._store.put(board.meta_space, _WINDOWS, json.dumps(saved).encode())
