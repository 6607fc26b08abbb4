"""The by-board wire format: runs of events per message, in order, under a size bound."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.edge.wire import MAX_MESSAGE_BYTES, decode_events, encode_event, pack_events
from streams.engine.events import ScoreEvent

events = st.builds(
    ScoreEvent,
    st.text(min_size=1, max_size=30),
    st.from_regex(r"[a-z][a-z0-9._-]{0,8}", fullmatch=True),
    st.text(min_size=1, max_size=30),
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.integers(0, 253_402_300_799_999),
)


@given(st.lists(events, max_size=40), st.integers(2, 400))
def test_packed_runs_decode_to_the_same_events_in_order(run: list[ScoreEvent], limit: int) -> None:
    encoded = [encode_event(e) for e in run]
    messages = list(pack_events(encoded, limit))
    assert [e for m in messages for e in decode_events(m)] == run
    for message in messages:
        # over the limit only when one event alone is bigger
        assert len(message) <= limit or len(decode_events(message)) == 1
        json.loads(message)  # plain JSON for anyone inspecting the topic


def test_a_run_of_five_hundred_events_is_one_message() -> None:
    run = [ScoreEvent(f"e{n}", "arena", f"u{n}", n, 1_700_000_000_000 + n) for n in range(500)]
    [message] = pack_events([encode_event(e) for e in run])
    assert len(message) < MAX_MESSAGE_BYTES
    assert decode_events(message) == run


def test_the_single_event_form_of_older_workers_still_decodes() -> None:
    event = ScoreEvent("e1", "arena", "ünïcode", -5, 1_700_000_000_000)
    assert decode_events(encode_event(event)) == [event]


@pytest.mark.parametrize("limit", [2, 10, MAX_MESSAGE_BYTES])
def test_no_events_no_messages(limit: int) -> None:
    assert list(pack_events([], limit)) == []
