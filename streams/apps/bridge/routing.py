"""Where a push-topic record goes on the ``rank_changes`` exchange (pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["Route", "message_id", "route"]


@dataclass(frozen=True, slots=True)
class Route:
    routing_key: str
    record_type: str


def route(value: bytes | None) -> Route | None:
    """``<board>.<window>`` for a push record; None for anything that is not one.

    The worker is the only writer of the push topic, so None means a foreign or corrupt
    record; the bridge counts and skips it rather than stopping the whole stream on it.
    A board may contain dots (``a.b``), which then appear in the key (``a.b.daily``): a
    binding ``a.*`` does not match it, ``a.b.*`` does.
    """
    if value is None:
        return None
    try:
        record = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict):
        return None
    board, window, kind = record.get("board"), record.get("window"), record.get("type")
    if not (isinstance(board, str) and board and isinstance(window, str) and window):
        return None
    key = f"{board}.{window}"
    if len(key.encode()) > 255:  # AMQP shortstr limit
        return None
    return Route(key, kind if isinstance(kind, str) else "")


def message_id(topic: str, partition: int, offset: int) -> str:
    """AMQP ``message_id`` of a published record: its Kafka coordinates.

    Stable across re-publication (after a bridge restart records since the last commit
    go out again), so a consumer can drop repeats by this id.
    """
    return f"{topic}/{partition}/{offset}"
