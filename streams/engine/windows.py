"""Calendar windows in a board's own time zone.

Windows follow local midnights, so a daily window on a DST day lasts 23 or 25 hours and a
weekly window starts at local midnight of the configured weekday (not faust's Thursday
epoch alignment). Bounds follow Python's ``fold=0`` rule for local midnight: for a midnight
that falls into a DST gap this is the transition instant, the first instant of that local
day, so consecutive windows always tile time without holes.

``Calendar(timezone, week_start).window(kind, ts)`` is compiled (rust/src/calendar.rs,
IANA zones from chrono-tz); it keeps the few windows it returned last per kind.
"""

from __future__ import annotations

from streams.engine._core import Calendar

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

__all__ = ["ALL", "DAILY", "KINDS", "WEEKDAYS", "WEEKLY", "Calendar"]
