"""Dead-letter records and the stable reason codes they carry.

Reason codes are an API: operators alert and dashboard on them, so they live in one enum
that intake, the engine (``future``, ``too_old``) and the exported JSON Schema all share. ``detail``
is for humans and may be reworded; ``reason`` may not.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field


class Reason(StrEnum):
    """Why a message was dead-lettered; values are stable wire strings."""

    TOO_LARGE = "too_large"
    """The message is over 64 KiB."""
    NOT_UTF8 = "not_utf8"
    """The bytes are not valid UTF-8."""
    BAD_JSON = "bad_json"
    """Not parseable as JSON (including NaN/Infinity outside a known field)."""
    NOT_OBJECT = "not_object"
    """Valid JSON, but not an object."""
    MISSING_FIELD = "missing_field"
    """At least one required field is absent (other fields may be invalid too)."""
    INVALID_FIELD = "invalid_field"
    """Every required field is present, at least one breaks its rule."""
    FUTURE = "future"
    """ts is more than max_future_seconds after the wall clock (decided by the engine)."""
    TOO_OLD = "too_old"
    """ts is more than the board's dedup_seconds behind its watermark: too old to be checked
    for duplicates, so it is applied to no window (decided by the engine)."""


REASONS: Final[frozenset[str]] = frozenset(reason.value for reason in Reason)

_OUT_CONFIG = ConfigDict(strict=True, extra="forbid", frozen=True)

_REASON_DOC = "Stable machine-readable reason code; alert on this, not on detail."
_DETAIL_DOC = "Human-readable explanation naming the offending field(s); wording may change."
_RAW_DOC = "The rejected message, decoded as UTF-8 with invalid bytes replaced by U+FFFD."


class DeadLetterReplay(BaseModel):
    """A line of the rankstream replay --dlq file: which input line was rejected and why."""

    model_config = _OUT_CONFIG

    # Lax for this one field so that plain "bad_json" strings (what JSON decoding and
    # the wire dicts carry) validate, not only Reason members.
    reason: Reason = Field(strict=False, description=_REASON_DOC)
    detail: str = Field(description=_DETAIL_DOC)
    raw: str = Field(description=_RAW_DOC)
    line: int = Field(ge=1, description="1-based line number in the replayed JSONL input.")


class DeadLetterSource(BaseModel):
    """Where a streamed message came from, so it can be found and replayed."""

    model_config = _OUT_CONFIG

    topic: str = Field(description="Kafka topic the message was read from.")
    partition: int = Field(ge=0, description="Kafka partition of the message.")
    offset: int = Field(ge=0, description="Kafka offset of the message in that partition.")


class DeadLetterStream(BaseModel):
    """A record of the DLQ topic written by the stream job (rankstream worker)."""

    model_config = _OUT_CONFIG

    reason: Reason = Field(strict=False, description=_REASON_DOC)
    detail: str = Field(description=_DETAIL_DOC)
    raw: str = Field(description=_RAW_DOC)
    source: DeadLetterSource = Field(description="Origin of the rejected message.")
