"""The wire score event (contract section 1) as a strict pydantic model.

The model is the single source of the input rules: ``streams.edge.validation`` validates raw
messages against it and ``schemas/score_event.schema.json`` is exported from it, so the
rules published to producers cannot drift from the rules enforced on them.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from schemas.rules import BOARD_PATTERN
from schemas.timefmt import TimestampError, parse_rfc3339_ms

USER_PATTERN: Final = r"^[^\x00-\x1f\x7f]*$"
"""No C0 control character nor DEL: they corrupt logs, terminals and line-based tools."""

MAX_EVENT_ID_CHARS: Final = 200
MAX_USER_CHARS: Final = 128
MAX_ABS_SCORE: Final = 2**53 - 1
"""Largest integer every JSON consumer (including JavaScript doubles) represents exactly."""

MAX_TS_MS: Final = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z: beyond it ``format_ms`` (and ``datetime``) cannot render."""


def _ts_to_ms(value: object) -> object:
    """Turn an RFC 3339 string into epoch ms; anything else goes on to the strict int check.

    Runs before the int validation so that both wire forms end up under the same bounds,
    and so that a bool/float/null ``ts`` still fails as "not an integer".
    """
    if isinstance(value, str):
        try:
            return parse_rfc3339_ms(value)
        except TimestampError as exc:
            raise PydanticCustomError("ts_format", str(exc)) from None
    return value


_TS_JSON_SCHEMA: Final = {
    "anyOf": [
        {"type": "integer", "minimum": 0, "maximum": MAX_TS_MS},
        {
            "type": "string",
            "format": "date-time",
            "pattern": r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
        },
    ]
}

Timestamp = Annotated[
    int,
    BeforeValidator(_ts_to_ms),
    WithJsonSchema(_TS_JSON_SCHEMA, mode="validation"),
]


class ScoreEventIn(BaseModel):
    """One score event as producers send it (rankstream contract, section 1).

    Strict, so that true, 1.0 and "10" are never coerced into a score: a silently
    accepted "10" would hide a broken producer. Unknown fields are ignored, so producers
    can add metadata without a coordinated deploy.
    """

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, title="ScoreEvent")

    event_id: str = Field(
        min_length=1,
        max_length=MAX_EVENT_ID_CHARS,
        description=(
            "Producer-chosen id, 1..200 characters, unique per board: (board, event_id) "
            "is the dedup key, so a redelivered event is applied once."
        ),
    )
    board: str = Field(
        pattern=BOARD_PATTERN,
        description=(
            "Leaderboard name: 1..128 characters, letters, digits, '.', '_' and '-', "
            "starting with a letter or digit."
        ),
    )
    user: str = Field(
        min_length=1,
        max_length=MAX_USER_CHARS,
        pattern=USER_PATTERN,
        description="User id, 1..128 characters, no control characters (U+0000..U+001F, U+007F).",
    )
    score: int = Field(
        ge=-MAX_ABS_SCORE,
        le=MAX_ABS_SCORE,
        description=(
            "The score of this event, a JSON integer with abs(score) <= 2^53 - 1; "
            "booleans, floats (even 1.0), strings and NaN are invalid."
        ),
    )
    ts: Timestamp = Field(
        ge=0,
        le=MAX_TS_MS,
        description=(
            "Event time: integer epoch milliseconds, or an RFC 3339 string with 'Z' or an "
            "offset (e.g. 2026-11-27T10:00:00+05:30). Validated value is epoch milliseconds, "
            "from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z."
        ),
    )
