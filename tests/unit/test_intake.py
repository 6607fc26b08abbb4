"""decode_event against every rule of contract section 1, one table row per rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.dead_letter import REASONS, DeadLetterReplay, DeadLetterStream, Reason
from streams.edge.validation import (
    MAX_MESSAGE_BYTES,
    Rejection,
    dead_letter_for_line,
    dead_letter_for_source,
    decode_event,
)
from streams.engine.events import ScoreEvent

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BASE: dict[str, Any] = {
    "event_id": "e-1",
    "board": "arena",
    "user": "alice",
    "score": 120,
    "ts": "2026-11-27T10:00:00Z",
}
BASE_TS_MS = 1_795_773_600_000
DROP = object()
_LITERAL = "\x00LITERAL\x00"


def ms(year: int, month: int, day: int, hour: int, minute: int) -> int:
    """Epoch ms of a UTC time, computed independently of the code under test."""
    instant = datetime(year, month, day, hour, minute, tzinfo=UTC)
    return (instant - _EPOCH) // timedelta(milliseconds=1)


def event(**fields: Any) -> bytes:
    """BASE with fields replaced (or dropped with DROP), as JSON bytes."""
    body = {k: v for k, v in {**BASE, **fields}.items() if v is not DROP}
    return json.dumps(body).encode()


def literal(field: str, text: str) -> bytes:
    """BASE with ``field`` set to raw JSON text that json.dumps would never write."""
    return event(**{field: _LITERAL}).replace(json.dumps(_LITERAL).encode(), text.encode())


def expected(**fields: Any) -> ScoreEvent:
    values = {**BASE, "ts": BASE_TS_MS, **fields}
    return ScoreEvent(**values)


VALID = [
    pytest.param(event(), expected(), id="baseline"),
    pytest.param(event(score=-(2**53 - 1)), expected(score=-(2**53 - 1)), id="score-min"),
    pytest.param(event(score=2**53 - 1), expected(score=2**53 - 1), id="score-max"),
    pytest.param(event(score=0), expected(score=0), id="score-zero"),
    pytest.param(literal("score", "-0"), expected(score=0), id="score-minus-zero"),
    pytest.param(event(ts=0), expected(ts=0), id="ts-epoch-zero"),
    pytest.param(event(ts=1_795_773_600_123), expected(ts=1_795_773_600_123), id="ts-int-ms"),
    pytest.param(
        event(ts="2026-11-27T10:00:00+05:30"),
        expected(ts=ms(2026, 11, 27, 4, 30)),
        id="ts-offset-plus-0530",
    ),
    pytest.param(
        event(ts="2026-11-27T10:00:00-08:00"),
        expected(ts=ms(2026, 11, 27, 18, 0)),
        id="ts-offset-minus-0800",
    ),
    pytest.param(event(ts="2026-11-27T10:00:00z"), expected(), id="ts-lowercase-z"),
    pytest.param(event(ts="2026-11-27t10:00:00Z"), expected(), id="ts-lowercase-t"),
    pytest.param(
        event(ts="2026-11-27T10:00:00.123Z"), expected(ts=BASE_TS_MS + 123), id="ts-millis"
    ),
    pytest.param(
        event(ts="2026-11-27T10:00:00.5Z"), expected(ts=BASE_TS_MS + 500), id="ts-fraction-1"
    ),
    pytest.param(
        event(ts="2026-11-27T10:00:00.123999Z"),
        expected(ts=BASE_TS_MS + 123),
        id="ts-micros-floored",
    ),
    pytest.param(event(event_id="x" * 200), expected(event_id="x" * 200), id="event_id-200"),
    pytest.param(event(user="u" * 128), expected(user="u" * 128), id="user-128"),
    pytest.param(event(user="😀" * 128), expected(user="😀" * 128), id="user-128-codepoints"),
    pytest.param(event(user="Zoë O'Brien"), expected(user="Zoë O'Brien"), id="user-unicode"),
    pytest.param(
        json.dumps({**BASE, "user": "Zoë"}, ensure_ascii=False).encode(),
        expected(user="Zoë"),
        id="user-raw-utf8",
    ),
    pytest.param(event(board="a" * 128), expected(board="a" * 128), id="board-128"),
    pytest.param(event(board="Arena.eu_1-b"), expected(board="Arena.eu_1-b"), id="board-chars"),
    pytest.param(event(board="9"), expected(board="9"), id="board-1-digit"),
    pytest.param(
        event(type="score", meta={"x": [1, 2.5, None]}, extra=True),
        expected(),
        id="unknown-fields-ignored",
    ),
    pytest.param(event(user="NaN Infinity"), expected(user="NaN Infinity"), id="user-named-NaN"),
    pytest.param(b"  " + event() + b"\n", expected(), id="surrounding-whitespace"),
]


@pytest.mark.parametrize(("raw", "want"), VALID)
def test_valid_events_decode_to_engine_events(raw: bytes, want: ScoreEvent) -> None:
    assert decode_event(raw) == want


MISSING = Reason.MISSING_FIELD
INVALID = Reason.INVALID_FIELD

REJECTED = [
    # score
    pytest.param(
        event(score=True), INVALID, "score: must be a JSON integer, not a boolean", id="score-bool"
    ),
    pytest.param(
        event(score=1.0), INVALID, "score: must be a JSON integer, not a float", id="score-1.0"
    ),
    pytest.param(literal("score", "1e2"), INVALID, "not a float", id="score-exponent"),
    pytest.param(
        event(score="10"), INVALID, "score: must be a JSON integer, not a string", id="score-string"
    ),
    pytest.param(
        event(score=None), INVALID, "score: must be a JSON integer, not null", id="score-null"
    ),
    pytest.param(
        literal("score", "NaN"), INVALID, "score: must be a JSON integer, not NaN", id="score-NaN"
    ),
    pytest.param(
        literal("score", "Infinity"),
        INVALID,
        "score: must be a JSON integer, not an infinite",
        id="score-Infinity",
    ),
    pytest.param(
        literal("score", "-Infinity"),
        INVALID,
        "Infinity is not valid JSON",
        id="score-minus-Infinity",
    ),
    pytest.param(
        event(score=2**53), INVALID, "score: abs(score) must be <= 2^53 - 1", id="score-2^53"
    ),
    pytest.param(
        event(score=-(2**53)),
        INVALID,
        "score: abs(score) must be <= 2^53 - 1",
        id="score-minus-2^53",
    ),
    pytest.param(event(score=10**30), INVALID, "score: abs(score)", id="score-huge"),
    # ts
    pytest.param(
        event(ts=1.5),
        INVALID,
        "ts: must be integer epoch milliseconds or an RFC 3339 string, not a float",
        id="ts-float",
    ),
    pytest.param(
        event(ts=1795773600000.0),
        INVALID,
        "ts: must be integer epoch milliseconds",
        id="ts-float-integral",
    ),
    pytest.param(event(ts=True), INVALID, "not a boolean", id="ts-bool"),
    pytest.param(
        event(ts=None),
        INVALID,
        "ts: must be integer epoch milliseconds or an RFC 3339 string, not null",
        id="ts-null",
    ),
    pytest.param(
        event(ts="2026-11-27T10:00:00"),
        INVALID,
        "ts: timestamp has no offset; add 'Z' or '+hh:mm'",
        id="ts-naive",
    ),
    pytest.param(
        event(ts="2026-11-27 10:00:00"), INVALID, "ts: timestamp has no offset", id="ts-naive-space"
    ),
    pytest.param(
        event(ts="2026-11-27"), INVALID, "ts: not an RFC 3339 timestamp", id="ts-date-only"
    ),
    pytest.param(
        event(ts="1795773600000"), INVALID, "ts: not an RFC 3339 timestamp", id="ts-digits-string"
    ),
    pytest.param(
        event(ts="2026-02-30T00:00:00Z"), INVALID, "ts: not a valid date and time", id="ts-feb-30"
    ),
    pytest.param(
        event(ts="2026-11-27T10:00:00+24:00"),
        INVALID,
        "ts: offset +24:00 is out of range",
        id="ts-bad-offset",
    ),
    pytest.param(
        event(ts=-1), INVALID, "ts: must not be before 1970-01-01T00:00:00Z", id="ts-negative-ms"
    ),
    pytest.param(
        event(ts="1969-12-31T23:59:59Z"),
        INVALID,
        "ts: must not be before 1970",
        id="ts-before-epoch",
    ),
    pytest.param(
        event(ts=10**20),
        INVALID,
        "ts: must not be after 9999-12-31T23:59:59.999Z",
        id="ts-beyond-9999",
    ),
    # missing fields
    *[
        pytest.param(event(**{name: DROP}), MISSING, f"missing field: {name}", id=f"missing-{name}")
        for name in BASE
    ],
    # event_id
    pytest.param(
        event(event_id=""),
        INVALID,
        "event_id: must be 1..200 characters, got 0",
        id="event_id-empty",
    ),
    pytest.param(
        event(event_id="x" * 201),
        INVALID,
        "event_id: must be 1..200 characters, got 201",
        id="event_id-201",
    ),
    pytest.param(
        event(event_id=7), INVALID, "event_id: must be a string, not an integer", id="event_id-int"
    ),
    # board
    pytest.param(
        event(board="my board!"),
        INVALID,
        "board: must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        id="board-bad-chars",
    ),
    pytest.param(event(board="a" * 129), INVALID, "board: must match", id="board-129"),
    pytest.param(event(board=".hidden"), INVALID, "board: must match", id="board-leading-dot"),
    pytest.param(event(board="-x"), INVALID, "board: must match", id="board-leading-dash"),
    pytest.param(event(board=""), INVALID, "board: must match", id="board-empty"),
    pytest.param(event(board="arena\n"), INVALID, "board: must match", id="board-trailing-newline"),
    pytest.param(event(board="arène"), INVALID, "board: must match", id="board-non-ascii"),
    pytest.param(
        event(board=["arena"]), INVALID, "board: must be a string, not an array", id="board-array"
    ),
    # user
    pytest.param(
        event(user="al\x00ice"),
        INVALID,
        "user: contains a control character (U+0000 at index 2)",
        id="user-NUL",
    ),
    pytest.param(
        event(user="alice\x1f"),
        INVALID,
        "user: contains a control character (U+001F",
        id="user-0x1f",
    ),
    pytest.param(
        event(user="\x7falice"),
        INVALID,
        "user: contains a control character (U+007F",
        id="user-DEL",
    ),
    pytest.param(
        event(user="a\nb"), INVALID, "user: contains a control character (U+000A", id="user-newline"
    ),
    pytest.param(
        event(user=""), INVALID, "user: must be 1..128 characters, got 0", id="user-empty"
    ),
    pytest.param(
        event(user="u" * 129), INVALID, "user: must be 1..128 characters, got 129", id="user-129"
    ),
    pytest.param(
        event(user={"id": 1}), INVALID, "user: must be a string, not an object", id="user-object"
    ),
    # whole message
    pytest.param(b"[1]", Reason.NOT_OBJECT, "expected a JSON object, got an array", id="array"),
    pytest.param(b'"x"', Reason.NOT_OBJECT, "expected a JSON object, got a string", id="string"),
    pytest.param(b"3", Reason.NOT_OBJECT, "expected a JSON object, got an integer", id="number"),
    pytest.param(b"null", Reason.NOT_OBJECT, "expected a JSON object, got null", id="null"),
    pytest.param(b"User Score Update", Reason.BAD_JSON, "not valid JSON", id="plain-text"),
    pytest.param(b"", Reason.BAD_JSON, "not valid JSON", id="empty-body"),
    pytest.param(event()[:-1], Reason.BAD_JSON, "not valid JSON", id="truncated"),
    pytest.param(
        event() + b" x",
        Reason.BAD_JSON,
        "not valid JSON: trailing characters",
        id="trailing-garbage",
    ),
    pytest.param(event() + event(), Reason.BAD_JSON, "not valid JSON", id="two-objects"),
    pytest.param(b"\xef\xbb\xbf" + event(), Reason.BAD_JSON, "byte order mark", id="utf8-bom"),
    pytest.param(
        event(user="\ud800"), Reason.BAD_JSON, "not valid JSON", id="lone-surrogate-escape"
    ),
    pytest.param(
        literal("note", "NaN"),
        Reason.BAD_JSON,
        "NaN is not a JSON value",
        id="NaN-in-unknown-field",
    ),
    pytest.param(
        literal("note", "[-Infinity]"),
        Reason.BAD_JSON,
        "-Infinity is not a JSON value",
        id="Infinity-nested",
    ),
    pytest.param(
        event(user="al\xe9").replace(b"\\u00e9", b"\xe9"),
        Reason.NOT_UTF8,
        "not valid UTF-8",
        id="latin1-byte",
    ),
    pytest.param(
        b"\xff\xfe{}",
        Reason.NOT_UTF8,
        "not valid UTF-8: invalid start byte at byte offset 0",
        id="utf16-bom",
    ),
    pytest.param(
        event(pad="x" * MAX_MESSAGE_BYTES), Reason.TOO_LARGE, "the limit is 65536", id="over-64KiB"
    ),
    # several problems at once
    pytest.param(
        event(event_id="", score=1.0, ts="2026-11-27T10:00:00"),
        INVALID,
        "event_id: must be 1..200 characters, got 0; score: must be a JSON integer, not a float; "
        "ts: timestamp has no offset",
        id="several-invalid",
    ),
    pytest.param(
        event(user=DROP, score=True),
        MISSING,
        "missing field: user; score: must be a JSON integer, not a boolean",
        id="missing-and-invalid",
    ),
]


@pytest.mark.parametrize(("raw", "reason", "detail"), REJECTED)
def test_invalid_events_are_rejected_with_reason_and_detail(
    raw: bytes, reason: Reason, detail: str
) -> None:
    result = decode_event(raw)
    assert isinstance(result, Rejection), result
    assert result.reason == reason
    assert result.reason in REASONS
    assert detail in result.detail


def test_size_limit_is_inclusive() -> None:
    """Exactly 64 KiB is allowed; one byte more is not."""
    body = event(pad="")
    body = event(pad="x" * (MAX_MESSAGE_BYTES - len(body)))
    assert len(body) == MAX_MESSAGE_BYTES
    assert decode_event(body) == expected()
    over = decode_event(body + b" ")
    assert isinstance(over, Rejection)
    assert over.reason == Reason.TOO_LARGE


FALLBACK = [
    pytest.param(event(event_id=DROP), "amqp-7", expected(event_id="amqp-7"), id="absent-used"),
    pytest.param(event(), "amqp-7", expected(), id="present-wins"),
    pytest.param(
        event(event_id=DROP),
        None,
        Rejection(MISSING, "missing field: event_id"),
        id="absent-no-fallback",
    ),
    pytest.param(
        event(event_id=""),
        "amqp-7",
        Rejection(INVALID, "event_id: must be 1..200 characters, got 0"),
        id="present-but-empty-not-replaced",
    ),
    pytest.param(
        event(event_id=DROP),
        "",
        Rejection(INVALID, "event_id (fallback id): must be 1..200 characters, got 0"),
        id="fallback-itself-invalid",
    ),
    pytest.param(
        event(event_id=DROP, score=True),
        "amqp-7",
        Rejection(INVALID, "score: must be a JSON integer, not a boolean"),
        id="absent-used-other-field-invalid",
    ),
    pytest.param(
        event(event_id=DROP, user=DROP),
        "amqp-7",
        Rejection(MISSING, "missing field: user"),
        id="absent-used-other-field-missing",
    ),
    pytest.param(
        literal("note", "NaN").replace(b'"event_id": "e-1", ', b""),
        "amqp-7",
        Rejection(Reason.BAD_JSON, "not valid JSON: NaN is not a JSON value"),
        id="absent-used-NaN-elsewhere",
    ),
]


@pytest.mark.parametrize(("raw", "fallback", "want"), FALLBACK)
def test_fallback_event_id_only_when_event_id_is_absent(
    raw: bytes, fallback: str | None, want: ScoreEvent | Rejection
) -> None:
    assert decode_event(raw, fallback_event_id=fallback) == want


def test_dead_letter_records_match_their_schemas() -> None:
    raw = b'{"user": "\xff"}'
    rejection = decode_event(raw)
    assert isinstance(rejection, Rejection)
    line = dead_letter_for_line(rejection, raw, 3)
    assert line == {
        "reason": "not_utf8",
        "detail": rejection.detail,
        "raw": '{"user": "\ufffd"}',
        "line": 3,
    }
    assert type(line["reason"]) is str  # plain str on the wire, not the enum
    DeadLetterReplay.model_validate_json(json.dumps(line))
    stream = dead_letter_for_source(rejection, raw, "scores", 2, 41)
    assert stream["source"] == {"topic": "scores", "partition": 2, "offset": 41}
    assert list(stream) == ["reason", "detail", "raw", "source"]
    DeadLetterStream.model_validate_json(json.dumps(stream))


# --- property: anything valid by construction decodes to the same values ----------------

_BOARDS = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_USERS = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x7f", min_codepoint=0x20),
    min_size=1,
    max_size=128,
)
_OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_INSTANTS = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31), timezones=_OFFSETS
)


def _rfc3339(instant: datetime) -> tuple[str, int]:
    text = instant.isoformat(timespec="milliseconds" if instant.microsecond else "seconds")
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    want = (instant.replace(microsecond=instant.microsecond // 1000 * 1000) - _EPOCH) // (
        timedelta(milliseconds=1)
    )
    return text, want


_TS = st.one_of(
    st.integers(min_value=0, max_value=253_402_300_799_999).map(lambda n: (n, n)),
    _INSTANTS.map(_rfc3339),
)


@given(
    event_id=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=200),
    board=_BOARDS,
    user=_USERS,
    score=st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1),
    ts=_TS,
    extra=st.dictionaries(
        st.text(max_size=8).filter(lambda k: k not in BASE), st.integers() | st.text(), max_size=3
    ),
    ascii_only=st.booleans(),
)
def test_valid_events_round_trip(
    event_id: str,
    board: str,
    user: str,
    score: int,
    ts: tuple[int | str, int],
    extra: dict[str, Any],
    ascii_only: bool,
) -> None:
    wire_ts, want_ms = ts
    body = {**extra, "event_id": event_id, "board": board, "user": user, "score": score}
    body["ts"] = wire_ts
    raw = json.dumps(body, ensure_ascii=ascii_only).encode()
    if len(raw) > MAX_MESSAGE_BYTES:  # pragma: no cover - sizes above keep well under
        return
    assert decode_event(raw) == ScoreEvent(event_id, board, user, score, want_ms)
