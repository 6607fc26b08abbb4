"""RFC 3339 instants <-> epoch milliseconds, and the wall clock in epoch milliseconds.

Standard library only: the engine imports it, so it must not pull pydantic in.

`datetime.fromisoformat` alone accepts far more than RFC 3339 (week dates, basic format,
naive times), and the contract rejects a timestamp without an offset, so the shape is
checked with a regex first. Arithmetic stays in integers so that no float rounding can
move an event across a window boundary.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})\Z")
_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class TimestampError(ValueError):
    """A timestamp string that is not an RFC 3339 instant with an offset."""


def parse_rfc3339_ms(text: str) -> int:
    """Epoch milliseconds of an RFC 3339 instant (fractions below 1 ms are floored).

    Once the regex vouches for the shape, Python 3.11's ``fromisoformat`` parses exactly
    that shape (``Z``, any number of fraction digits, truncated to microseconds) in C.
    """
    if _RFC3339.match(text) is None:
        if _NAIVE.match(text):
            raise TimestampError("timestamp has no offset; add 'Z' or '+hh:mm'")
        raise TimestampError("not an RFC 3339 timestamp such as 2026-11-27T10:00:00Z")
    try:
        instant = datetime.fromisoformat(text.upper())
    except ValueError as exc:  # e.g. 2026-02-30, 25:00:00 or an offset of +24:00
        offset = text[-6:]
        if offset[0] in "+-" and (int(offset[1:3]) > 23 or int(offset[4:6]) > 59):
            raise TimestampError(f"offset {offset} is out of range") from None
        raise TimestampError(f"not a valid date and time: {exc}") from None
    return (instant - _EPOCH) // _MS


def format_ms(ms: int) -> str:
    """Render epoch milliseconds as an RFC 3339 UTC instant, with millis only when nonzero."""
    instant = _EPOCH + timedelta(milliseconds=ms)
    text = instant.strftime("%Y-%m-%dT%H:%M:%S")
    if ms % 1000:
        text += f".{ms % 1000:03d}"
    return text + "Z"


def wall_clock_ms() -> int:
    """The wall clock in epoch milliseconds: the clock the job injects into the engine."""
    return time.time_ns() // 1_000_000
