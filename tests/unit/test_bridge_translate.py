"""The bridge's inbound decision: forward (which bytes) or dead-letter (which reason)."""

from __future__ import annotations

import json

import pytest

from schemas.timefmt import parse_rfc3339_ms
from streams.apps.bridge.translate import (
    HEADER_DETAIL,
    HEADER_QUEUE,
    HEADER_REASON,
    DeadLetter,
    Forward,
    dead_letter_headers,
    translate,
)
from streams.edge.validation import decode_event

EVENT = {"event_id": "e1", "board": "arena", "user": "ada", "score": 5, "ts": 1795770000000}
NO_ID = {k: v for k, v in EVENT.items() if k != "event_id"}


def _body(obj: object) -> bytes:
    return json.dumps(obj).encode()


# (name, body, message_id, expected reason)
DEAD: list[tuple[str, bytes, str | None, str]] = [
    ("legacy plain text", b"User Score Update", None, "bad_json"),
    ("legacy plain text with id", b"User Score Update", "m-1", "bad_json"),
    ("empty body", b"", None, "bad_json"),
    ("array", b"[1, 2]", None, "not_object"),
    ("not utf-8", b'{"user": "\xff"}', None, "not_utf8"),
    ("no id at all", _body(NO_ID), None, "missing_field"),
    ("empty message_id is no id", _body(NO_ID), "", "missing_field"),
    ("fallback id too long", _body(NO_ID), "x" * 201, "invalid_field"),
    ("float score", _body({**EVENT, "score": 1.0}), None, "invalid_field"),
    ("bad board", _body({**EVENT, "board": "a b"}), "m-1", "invalid_field"),
    ("too large", b"{" + b" " * 70_000 + b"}", None, "too_large"),
]


@pytest.mark.parametrize(("name", "body", "message_id", "reason"), DEAD, ids=[d[0] for d in DEAD])
def test_invalid_bodies_are_dead_letters_with_the_intakes_reason(
    name: str, body: bytes, message_id: str | None, reason: str
) -> None:
    decision = translate(body, message_id)
    assert isinstance(decision, DeadLetter)
    assert decision.reason == reason
    assert decision.detail


def test_no_event_id_and_no_message_id_says_how_to_fix_it() -> None:
    decision = translate(_body(NO_ID), None)
    assert isinstance(decision, DeadLetter)
    assert "missing field: event_id" in decision.detail and "message_id" in decision.detail


@pytest.mark.parametrize("message_id", [None, "m-1"])
def test_a_body_with_its_own_event_id_is_forwarded_byte_for_byte(message_id: str | None) -> None:
    body = b'{"event_id":"e1", "board":"arena","user":"ada","score":5,"ts":1795770000000,"x":1}'
    assert translate(body, message_id) == Forward(b"arena", body)


def test_an_event_id_equal_to_the_message_id_is_forwarded_as_the_same_event() -> None:
    # Indistinguishable from a filled-in fallback, so re-serialised: the same event.
    body = _body(EVENT)
    decision = translate(body, "e1")
    assert isinstance(decision, Forward)
    assert decode_event(decision.value) == decode_event(body)


def test_message_id_stands_in_for_a_missing_event_id() -> None:
    body = _body({**NO_ID, "ts": "2026-11-27T09:00:00+01:00", "extra": [1]})
    decision = translate(body, "amqp-7")
    assert isinstance(decision, Forward) and decision.key == b"arena"
    assert json.loads(decision.value) == {
        "event_id": "amqp-7",
        "board": "arena",
        "user": "ada",
        "score": 5,
        "ts": parse_rfc3339_ms("2026-11-27T08:00:00Z"),
    }
    # What the worker will read is valid on its own, and the same event.
    assert decode_event(decision.value) == decode_event(body, fallback_event_id="amqp-7")


def test_the_same_message_gets_the_same_decision() -> None:
    body = _body(NO_ID)
    assert translate(body, "m-9") == translate(body, "m-9")


def test_dead_letter_headers_carry_reason_detail_and_queue() -> None:
    headers = dead_letter_headers(DeadLetter("bad_json", "not valid JSON"), "rank_update")
    assert headers == {
        HEADER_REASON: "bad_json",
        HEADER_DETAIL: "not valid JSON",
        HEADER_QUEUE: "rank_update",
    }
