"""The intake stage's unit of work (streams.runtime.intake_stage.intake_unit): one input
partition's records become by-board runs and dead letters, in one unit whose next offset
follows the last record."""

from __future__ import annotations

import json
from dataclasses import dataclass

from streams.edge.wire import decode_events
from streams.engine.config import parse_boards
from streams.runtime.intake_stage import IntakeTopics, intake_unit

TOPICS = IntakeTopics("scores", "app-scores-by-board", "scores-dlq")
NOW = 1_795_000_000_000
CONFIG = parse_boards({})


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    value: bytes | None


def event(event_id: str, board: str, ts: int = NOW - 1000) -> bytes:
    body = {"event_id": event_id, "board": board, "user": "u", "score": 1, "ts": ts}
    return json.dumps(body).encode()


def records(*values: bytes | None, partition: int = 2, first: int = 40) -> list[Rec]:
    return [Rec("scores", partition, first + n, v) for n, v in enumerate(values)]


def test_valid_events_become_one_run_per_board_in_input_order() -> None:
    unit, invalid = intake_unit(
        records(event("a", "x"), event("b", "y"), event("c", "x")), NOW, CONFIG, TOPICS
    )
    assert invalid == 0
    assert (unit.topic, unit.partition, unit.next_offset) == ("scores", 2, 43)
    runs = {key: [e.event_id for e in decode_events(value)] for _, key, value in unit.records}
    assert runs == {b"x": ["a", "c"], b"y": ["b"]}
    assert {topic for topic, _, _ in unit.records} == {TOPICS.by_board}


def test_invalid_and_future_events_are_dead_letters_with_their_coordinates() -> None:
    future = event("f", "x", ts=NOW + (CONFIG.max_future_seconds + 1) * 1000)
    unit, invalid = intake_unit(
        records(b"not json", event("ok", "x"), future, None), NOW, CONFIG, TOPICS
    )
    assert invalid == 3
    letters = [json.loads(v) for t, _, v in unit.records if t == TOPICS.dlq]
    assert [(x["reason"], x["source"]["offset"]) for x in letters] == [
        ("bad_json", 40),
        ("future", 42),
        ("bad_json", 43),
    ]
    assert all(
        x["source"] == {"topic": "scores", "partition": 2, "offset": x["source"]["offset"]}
        for x in letters
    )
    assert unit.next_offset == 44
    runs = [decode_events(v) for t, _, v in unit.records if t == TOPICS.by_board]
    assert [[e.event_id for e in run] for run in runs] == [["ok"]]


def test_an_event_at_the_future_limit_is_valid() -> None:
    edge = event("edge", "x", ts=NOW + CONFIG.max_future_seconds * 1000)
    unit, invalid = intake_unit(records(edge), NOW, CONFIG, TOPICS)
    assert invalid == 0
    assert [t for t, _, _ in unit.records] == [TOPICS.by_board]
