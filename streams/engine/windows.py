"""Calendar windows in a board's own time zone.

Windows follow local midnights, so a daily window on a DST day lasts 23 or 25 hours and a
weekly window starts at local midnight of the configured weekday (not faust's Thursday
epoch alignment). Bounds are computed with zoneinfo using ``fold=0`` for local midnight:
for a midnight that falls into a DST gap this maps to the transition instant, which is the
first instant of that local day, so consecutive windows always tile time without holes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from streams.engine.events import WindowRef

DAILY = "daily"
WEEKLY = "weekly"
ALL = "all"
KINDS: tuple[str, ...] = (DAILY, WEEKLY, ALL)
WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_ONE_DAY = timedelta(days=1)
_ALL_WINDOW = WindowRef(ALL, None, None, None)
_CACHE_SIZE = 4


class Calendar:
    """Maps event time to the daily/weekly/all window of one board.

    Events arrive mostly in order, so each kind keeps the few windows it returned last and
    answers from them before touching zoneinfo; the cache is bounded, not per user.
    """

    __slots__ = ("_recent", "_tz", "_week_start")

    def __init__(self, timezone: str, week_start: int) -> None:
        self._tz = ZoneInfo(timezone)
        self._week_start = week_start
        self._recent: dict[str, list[WindowRef]] = {DAILY: [], WEEKLY: []}

    def window(self, kind: str, ts: int) -> WindowRef:
        if kind == ALL:
            return _ALL_WINDOW
        recent = self._recent[kind]
        for ref in recent:
            if ref.start <= ts < ref.end:  # type: ignore[operator]
                return ref
        ref = self._compute(kind, ts)
        recent.insert(0, ref)
        del recent[_CACHE_SIZE:]
        return ref

    def _compute(self, kind: str, ts: int) -> WindowRef:
        local_day = datetime.fromtimestamp(ts // 1000, self._tz).date()
        if kind == DAILY:
            first, days = local_day, 1
        else:
            back = (local_day.weekday() - self._week_start) % 7
            first, days = local_day - timedelta(days=back), 7
        start = self._midnight_ms(first)
        end = self._midnight_ms(first + days * _ONE_DAY)
        return WindowRef(kind, first.isoformat(), start, end)

    def _midnight_ms(self, day: date) -> int:
        return (datetime.combine(day, time(), tzinfo=self._tz) - _EPOCH) // _MS
