"""How one generated line looks on the wire: event-time forms, user names, scores, and the
special and invalid line kinds of the mixes.

Kept apart from the stream's sequencing (gen_events.py) so that the catalogue of kinds and
the malformed lines built for each, which the contract tests rely on, read in one place.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

__all__ = [
    "DAY_MS",
    "HOUR_MS",
    "INVALID_KINDS",
    "MAX_SCORE",
    "MINUTE_MS",
    "MIX_KINDS",
    "SPECIAL_KINDS",
    "VALID_KIND",
    "dump",
    "format_instant",
    "invalid_line",
    "parse_instant",
    "random_score",
    "ts_value",
    "user_name",
]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
MAX_SCORE = 2**53 - 1

#: Kinds of well-formed lines. ``valid`` is an ordinary event; the others only exist with
#: ``mix_invalid``: ``duplicate`` re-sends the exact bytes of an earlier line (same board and
#: event_id), ``late`` is 1-3 days and ``very_late`` 8-20 days before the board's watermark.
VALID_KIND = "valid"
SPECIAL_KINDS: tuple[str, ...] = ("duplicate", "late", "very_late")

#: Kinds of lines the contract rejects (dead letters); ``blank`` lines are skipped instead.
INVALID_KINDS: tuple[str, ...] = (
    "text",  # the plain text "User Score Update"
    "bool_score",  # "score": true
    "float_score",  # "score": 1.0 / 12.5
    "string_score",  # "score": "12"
    "score_too_large",  # abs(score) = 2**53
    "missing_field",  # one of the five fields dropped
    "naive_ts",  # "2026-11-21T10:00:00" without offset
    "future",  # ts days after --now
    "invalid_utf8",  # raw \xff\xfe bytes inside a string
    "bad_board",  # board name with a space / leading dot
    "control_user",  # user with a control character
    "not_object",  # a JSON array / number
    "truncated_json",  # a line cut in the middle
    "blank",  # an empty line
)
MIX_KINDS: tuple[str, ...] = SPECIAL_KINDS + INVALID_KINDS

_OFFSETS: tuple[timedelta, ...] = (
    timedelta(hours=2),
    timedelta(hours=-5),
    timedelta(hours=9),
    timedelta(hours=5, minutes=30),
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_instant(text: str) -> int:
    """Epoch ms of an RFC 3339 instant with ``Z`` or an offset (for the CLI options)."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no offset")
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def format_instant(ms: int, offset: timedelta | None = None, millis: bool = True) -> str:
    """RFC 3339 text of epoch ``ms``: ``Z`` when ``offset`` is None, else ``+hh:mm``."""
    dt = _EPOCH + timedelta(milliseconds=ms)
    if offset is not None:
        dt = dt.astimezone(timezone(offset))
    text = dt.isoformat(timespec="milliseconds" if millis else "seconds")
    return text[:-6] + "Z" if offset is None else text


def user_name(index: int) -> str:
    """Name of user ``index``; one in 50 is non-ASCII (still valid: no control characters)."""
    if index % 50 == 7:
        return f"jörg-ß-{index}" if index % 100 == 7 else f"プレイヤー{index}"
    return f"u{index:07d}"


def random_score(rng: random.Random, aggregate: str) -> int:
    if aggregate == "sum":
        if rng.random() < 0.06:
            return -rng.randint(1, 50)
        return rng.randint(1, 100)
    if aggregate == "min":  # a lap time in ms
        return rng.randint(20_000, 600_000)
    if aggregate == "max":
        return rng.randint(1, 1_000_000)
    return rng.randint(0, 10_000)  # last


def ts_value(rng: random.Random, ms: int) -> tuple[int | str, int]:
    """A wire form of about ``ms`` (epoch ms, Z, offsets, with or without millis) and the
    exact instant it denotes (whole seconds drop the millis)."""
    r = rng.random()
    if r < 0.40:
        return ms, ms
    if r < 0.65:
        return format_instant(ms), ms
    if r < 0.75:
        ms -= ms % 1000
        return format_instant(ms, millis=False), ms
    return format_instant(ms, offset=_OFFSETS[rng.randrange(len(_OFFSETS))]), ms


def dump(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def invalid_line(kind: str, rng: random.Random, obj: dict[str, Any], now_ms: int) -> bytes:
    """A line of the given invalid ``kind``, built from an otherwise valid event ``obj``."""
    if kind == "text":
        return b"User Score Update"
    if kind == "blank":
        return b""
    if kind == "bool_score":
        obj["score"] = rng.random() < 0.5
    elif kind == "float_score":
        obj["score"] = rng.choice([1.0, 12.5, 100.0, -3.25])
    elif kind == "string_score":
        obj["score"] = str(rng.randint(1, 100))
    elif kind == "score_too_large":
        obj["score"] = rng.choice([2**53, -(2**53), 2**64])
    elif kind == "missing_field":
        del obj[rng.choice(["event_id", "board", "user", "score", "ts"])]
    elif kind == "naive_ts":
        ms = obj["ts"] if isinstance(obj["ts"], int) else now_ms - DAY_MS
        obj["ts"] = format_instant(ms)[:-1]  # drop the Z
    elif kind == "future":
        obj["ts"] = ts_value(rng, now_ms + rng.randint(DAY_MS, 30 * DAY_MS))[0]
    elif kind == "invalid_utf8":
        obj["user"] = "bad@@user"
        return dump(obj).replace(b"@@", b"\xff\xfe")
    elif kind == "bad_board":
        obj["board"] = rng.choice(["has space", ".hidden", "", "x" * 129, "a/b"])
    elif kind == "control_user":
        obj["user"] = rng.choice(["tab\tuser", "nul\x00user", "del\x7fuser", "nl\nuser"])
    elif kind == "not_object":
        return rng.choice([b"[1, 2, 3]", b"42", b'"User Score Update"', b"null"])
    elif kind == "truncated_json":
        line = dump(obj)
        return line[: len(line) // 2]
    else:  # pragma: no cover - guarded by MIX_KINDS
        raise ValueError(f"unknown kind {kind}")
    return dump(obj)
