"""The job's internal wire format between the intake and the ranking agent.

Events are validated once, at the intake; the repartition topic then carries the engine's
five fields as a compact JSON array, which decodes without a second validation.
"""

from __future__ import annotations

import json

from .engine.events import ScoreEvent


def encode_event(event: ScoreEvent) -> bytes:
    return json.dumps(list(event), ensure_ascii=False, separators=(",", ":")).encode()


def decode_event(raw: bytes) -> ScoreEvent:
    event_id, board, user, score, ts = json.loads(raw)
    return ScoreEvent(event_id, board, user, score, ts)
