"""A deliberately simple model of contract sections 1-3 to check the engine against.

It keeps every applied event and, after each one, recomputes every window's standings from
scratch by the contract's definitions and sorts them. Nothing here is shared with the
engine except the config dataclasses and the value types, so a shared bug is unlikely.
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
    seen: set[tuple[str, str]] = field(default_factory=set)
    watermark: dict[str, int] = field(default_factory=dict)
    events: dict[WindowId, list[ScoreEvent]] = field(default_factory=lambda: defaultdict(list))
    bounds: dict[WindowId, tuple[int | None, int | None]] = field(default_factory=dict)
    closed: set[WindowId] = field(default_factory=set)

    def apply(self, e: ScoreEvent) -> tuple[str, list[WindowId], list[tuple[WindowId, Top]]]:
        """Outcome, the windows the event went into, and the windows it closed."""
        if e.ts > self.now + self.config.max_future_seconds * 1000:
            return "future", [], []
        if (e.board, e.event_id) in self.seen:
            return "duplicate", [], []
        self.seen.add((e.board, e.event_id))
        cfg = self.config.for_board(e.board)
        grace = cfg.grace_seconds * 1000
        wm = self.watermark.get(e.board)
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
        closing = []
        for wid, (_start, end) in self.bounds.items():
            if wid[0] != e.board or end is None or wid in self.closed:
                continue
            if self.watermark[e.board] >= end + grace:
                self.closed.add(wid)
                closing.append((end, ("daily", "weekly").index(wid[1]), wid))
        closed = [(wid, self.top(wid)) for _end, _kind, wid in sorted(closing)]
        return "applied", touched, closed

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
