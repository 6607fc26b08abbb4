"""A deliberately simple model of contract sections 1-3 to check the engine against.

It keeps every applied event and, after each one, recomputes every window's standings from
scratch by the contract's definitions and sorts them. The dedup horizon is modelled with
its bucket granularity (engine docs, rust/src/dedup.rs): an id is remembered with
the end of its ts's bucket (buckets are an eighth of the horizon, at least a second, wide)
and is forgotten as soon as that end is no longer after ``watermark - horizon``. Nothing
here is shared with the engine except the config dataclasses and the value types, so a
shared bug is unlikely.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from streams.engine.config import BoardsConfig
from streams.engine.events import ScoreEvent

WindowId = tuple[str, str, str | None]  # board, kind, period
Top = list[tuple[int, str, int]]  # (rank, user, score)


def window_of(
    kind: str, ts: int, tz_name: str, week_start: int
) -> tuple[str | None, int | None, int | None]:
    """(period, start ms, end ms) by the contract's words, computed the obvious way."""
    if kind == "all":
        return None, None, None
    tz = ZoneInfo(tz_name)
    day = datetime.fromtimestamp(ts / 1000, tz).date()
    if kind == "weekly":
        while day.weekday() != week_start:
            day -= timedelta(days=1)
    length = 1 if kind == "daily" else 7
    return day.isoformat(), _midnight(day, tz), _midnight(day + timedelta(days=length), tz)


def _midnight(day: date, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC).timestamp() * 1000)


@dataclass
class Reference:
    config: BoardsConfig
    now: int
    #: (board, event_id) -> end of the id's dedup bucket (None: remembered forever)
    seen: dict[tuple[str, str], int | None] = field(default_factory=dict)
    watermark: dict[str, int] = field(default_factory=dict)
    events: dict[WindowId, list[ScoreEvent]] = field(default_factory=lambda: defaultdict(list))
    bounds: dict[WindowId, tuple[int | None, int | None]] = field(default_factory=dict)
    closed: set[WindowId] = field(default_factory=set)

    def apply(self, e: ScoreEvent) -> tuple[str, list[WindowId], list[tuple[WindowId, Top]]]:
        """Outcome, the windows the event went into, and the windows it closed."""
        if e.ts > self.now + self.config.max_future_seconds * 1000:
            return "future", [], []
        cfg = self.config.for_board(e.board)
        horizon = cfg.dedup_seconds * 1000
        wm = self.watermark.get(e.board)
        key = (e.board, e.event_id)
        if key in self.seen:
            end = self.seen[key]
            if end is None or not horizon or wm is None or end > wm - horizon:
                return "duplicate", [], []  # whatever its own ts
        if horizon and wm is not None and e.ts < wm - horizon:
            return "too_old", [], []
        bucket = max(1000, horizon // 8)
        self.seen[key] = (e.ts // bucket + 1) * bucket if horizon else None
        grace = cfg.grace_seconds * 1000
        touched = []
        for kind in cfg.windows:
            period, start, end = window_of(kind, e.ts, cfg.timezone, cfg.week_start)
            if end is not None and wm is not None and wm >= end + grace:
                continue  # late for this window only
            wid = (e.board, kind, period)
            self.events[wid].append(e)
            self.bounds[wid] = (start, end)
            touched.append(wid)
        self.watermark[e.board] = e.ts if wm is None else max(wm, e.ts)
        return "applied", touched, self._close(e.board)

    def idle(self, board: str, now: int) -> list[tuple[WindowId, Top]]:
        """Idle close: the board's watermark moves up to ``now``; the windows it closes."""
        wm = self.watermark.get(board)
        if wm is None or now <= wm:
            return []
        self.watermark[board] = now
        return self._close(board)

    def idle_all(self, now: int) -> list[tuple[WindowId, Top]]:
        """Every board with events and idle close on, in name order (replay --now)."""
        closed = []
        for board in sorted(self.watermark):
            if self.config.for_board(board).idle_close_seconds:
                closed += self.idle(board, now)
        return closed

    def _close(self, board: str) -> list[tuple[WindowId, Top]]:
        grace = self.config.for_board(board).grace_seconds * 1000
        closing = []
        for wid, (_start, end) in self.bounds.items():
            if wid[0] != board or end is None or wid in self.closed:
                continue
            if self.watermark[board] >= end + grace:
                self.closed.add(wid)
                closing.append((end, ("daily", "weekly").index(wid[1]), wid))
        return [(wid, self.top(wid)) for _end, _kind, wid in sorted(closing)]

    def standings(self, wid: WindowId) -> list[tuple[str, int]]:
        """Every user of the window in rank order, with scores."""
        cfg = self.config.for_board(wid[0])
        per_user: dict[str, list[ScoreEvent]] = defaultdict(list)
        for e in self.events[wid]:
            per_user[e.user].append(e)
        rows = []
        for user, evs in per_user.items():
            if cfg.aggregate == "sum":
                score, reached = sum(e.score for e in evs), max(e.ts for e in evs)
            elif cfg.aggregate in ("max", "min"):
                pick = max if cfg.aggregate == "max" else min
                score = pick(e.score for e in evs)
                reached = min(e.ts for e in evs if e.score == score)
            else:
                last = max(evs, key=lambda e: (e.ts, e.event_id))
                score, reached = last.score, last.ts
            sign = -1 if cfg.order == "desc" else 1
            rows.append((sign * score, reached, user, score))
        rows.sort()
        return [(user, score) for _s, _r, user, score in rows]

    def top(self, wid: WindowId) -> Top:
        k = self.config.for_board(wid[0]).top
        return [(rank, u, s) for rank, (u, s) in enumerate(self.standings(wid)[:k], 1)]
