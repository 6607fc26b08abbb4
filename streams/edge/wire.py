"""The job's internal wire format between the intake and the ranking agent.

Events are validated once, at the intake; the repartition topic then carries the engine's
five fields as a compact JSON array, which decodes without a second validation.

One by-board message holds a run of one board's events from one intake batch, in intake
order (``[[event_id, board, user, score, ts], ...]``), keyed by the board as a single event
was, so each board's events keep their order. faust's path costs about as much per message
whatever the message holds, so the ranking agent pays it once per run instead of once per
event (the measured ceiling: docs/design/intake-stage.md). Messages stay under
:data:`MAX_MESSAGE_BYTES`, well inside the broker's default 1 MiB limit, unless one event
alone is bigger. :func:`decode_events` also reads the single-event form older workers
wrote, so a rolling upgrade ranks what is still in the topic. Tests:
``tests/unit/test_wire.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from streams.engine.events import ScoreEvent

#: Upper bound of one by-board message's value (a single event is at most 64 KiB + framing).
MAX_MESSAGE_BYTES = 256 * 1024


def encode_event(event: ScoreEvent) -> bytes:
    return json.dumps(list(event), ensure_ascii=False, separators=(",", ":")).encode()


def pack_events(encoded: Sequence[bytes], limit: int = MAX_MESSAGE_BYTES) -> Iterator[bytes]:
    """Messages holding ``encoded`` (each :func:`encode_event`'s bytes) in order, each under
    ``limit`` bytes unless a single event alone is bigger."""
    start, size = 0, 2
    for end, event in enumerate(encoded):
        if end > start and size + len(event) + 1 > limit:
            yield b"[" + b",".join(encoded[start:end]) + b"]"
            start, size = end, 2
        size += len(event) + 1
    if start < len(encoded):
        yield b"[" + b",".join(encoded[start:]) + b"]"


def decode_events(raw: bytes) -> list[ScoreEvent]:
    """The events of one by-board message, in order: a run, or one event (older form)."""
    data = json.loads(raw)
    if data and isinstance(data[0], list):
        return [ScoreEvent(*fields) for fields in data]
    return [ScoreEvent(*data)]
