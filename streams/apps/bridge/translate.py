"""The inbound decision for one AMQP message, without I/O: a Kafka record or a dead letter.

Validation is :func:`streams.edge.validation.decode_event`, the very code the worker runs, so a
message is judged the same whichever way it arrived. What is forwarded to Kafka is the
producer's own bytes whenever they already carry the ``event_id``: the worker validates
them again and gets the same event. Only when the AMQP ``message_id`` stood in for a
missing ``event_id`` is the event re-serialised (canonically, with that id), because the
worker reads the scores topic without AMQP properties.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from streams.edge.validation import Rejection, decode_event
from streams.engine.events import ScoreEvent

__all__ = [
    "HEADER_DETAIL",
    "HEADER_QUEUE",
    "HEADER_REASON",
    "DeadLetter",
    "Forward",
    "canonical_event",
    "dead_letter_headers",
    "translate",
]

HEADER_REASON: Final = "x-rankstream-reason"
HEADER_DETAIL: Final = "x-rankstream-detail"
HEADER_QUEUE: Final = "x-rankstream-queue"
_NO_ID_HINT: Final = (
    " (the AMQP message has no message_id either; set one of them, so that a redelivery "
    "is recognised as a duplicate)"
)


@dataclass(frozen=True, slots=True)
class Forward:
    """Produce ``value`` to the scores topic with key ``key`` (the board)."""

    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Publish the body to the dead-letter queue with this reason (a contract reason code)."""

    reason: str
    detail: str


def translate(body: bytes, message_id: str | None) -> Forward | DeadLetter:
    """Decide what becomes of one message read from the input queue.

    A body with neither ``event_id`` nor ``message_id`` is dead-lettered
    (``missing_field``) rather than given an invented id: a random id would make every
    redelivery count again, and an id derived from the body would merge two genuine,
    identical events (same user, score and millisecond) into one.
    """
    fallback = message_id or None  # an empty message_id is no id at all
    result = decode_event(body, fallback_event_id=fallback)
    if isinstance(result, Rejection):
        detail = result.detail
        if fallback is None and "missing field: event_id" in detail:
            detail += _NO_ID_HINT
        return DeadLetter(str(result.reason), detail)
    key = result.board.encode()
    if fallback is not None and result.event_id == fallback:
        return Forward(key, canonical_event(result))
    return Forward(key, body)


def canonical_event(event: ScoreEvent) -> bytes:
    """The event as compact JSON with epoch-millisecond ``ts``: valid input by construction."""
    payload = {
        "event_id": event.event_id,
        "board": event.board,
        "user": event.user,
        "score": event.score,
        "ts": event.ts,
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def dead_letter_headers(letter: DeadLetter, queue: str) -> dict[str, str]:
    """AMQP headers of a dead letter: why, and where it was read."""
    return {HEADER_REASON: letter.reason, HEADER_DETAIL: letter.detail, HEADER_QUEUE: queue}
