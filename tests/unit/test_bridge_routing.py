"""Routing keys of push records on the rank_changes exchange."""

from __future__ import annotations

import json

import pytest

from streams.apps.bridge.routing import Route, message_id, route

CHANGE = {
    "type": "rank_change",
    "board": "arena",
    "window": "daily",
    "period": "2026-11-27",
    "user": "ada",
    "old_rank": None,
    "new_rank": 1,
    "score": 5,
    "cause": "e1",
}

ROUTED: list[tuple[dict[str, object], Route]] = [
    (CHANGE, Route("arena.daily", "rank_change")),
    ({**CHANGE, "window": "all"}, Route("arena.all", "rank_change")),
    (
        {**CHANGE, "type": "window_closed", "window": "weekly"},
        Route("arena.weekly", "window_closed"),
    ),
    ({**CHANGE, "board": "a.b-c_d"}, Route("a.b-c_d.daily", "rank_change")),
    ({"board": "x", "window": "daily"}, Route("x.daily", "")),
]


@pytest.mark.parametrize(("record", "expected"), ROUTED)
def test_routing_key_is_board_dot_window(record: dict[str, object], expected: Route) -> None:
    assert route(json.dumps(record).encode()) == expected


NOT_PUSH_RECORDS: list[bytes | None] = [
    None,
    b"",
    b"not json",
    b"[]",
    b'"arena.daily"',
    b'{"board": "arena"}',
    b'{"window": "daily"}',
    b'{"board": "", "window": "daily"}',
    b'{"board": 1, "window": "daily"}',
    b"\xff\xfe",
    json.dumps({"board": "b" * 300, "window": "daily"}).encode(),
]


@pytest.mark.parametrize("value", NOT_PUSH_RECORDS)
def test_records_that_are_no_push_records_have_no_route(value: bytes | None) -> None:
    assert route(value) is None


def test_message_ids_are_kafka_coordinates() -> None:
    assert message_id("rank-changes", 3, 42) == "rank-changes/3/42"
    assert message_id("t", 0, 1) != message_id("t", 1, 0)
