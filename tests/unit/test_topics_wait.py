"""The worker waits until the broker's metadata leads every topic before faust starts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError  # type: ignore[import-untyped]

from streams.runtime.topics import _until_led


def led(topic: str, leaders: list[int]) -> dict[str, Any]:
    partitions = [{"partition": n, "leader": leader} for n, leader in enumerate(leaders)]
    return {"topic": topic, "error_code": 0, "partitions": partitions}


class FakeAdmin:
    """Answers describe_topics from a script, one answer per call (the last repeats)."""

    def __init__(self, answers: list[list[dict[str, Any]]]) -> None:
        self.answers = answers
        self.calls = 0

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return answer


@pytest.mark.parametrize(
    "first",
    [
        [{"topic": "a", "error_code": 3, "partitions": []}, led("b", [1])],  # unknown yet
        [led("a", []), led("b", [1])],  # no partitions yet
        [led("a", [1, -1]), led("b", [1])],  # a partition without a leader
    ],
    ids=["unknown", "no-partitions", "leaderless"],
)
def test_waits_until_every_partition_has_a_leader(first: list[dict[str, Any]]) -> None:
    admin = FakeAdmin([first, first, [led("a", [1, 1]), led("b", [1])]])
    asyncio.run(_until_led(admin, ["a", "b"], time.monotonic() + 30))
    assert admin.calls == 3


def test_returns_at_once_when_all_are_led() -> None:
    admin = FakeAdmin([[led("a", [1, 1]), led("b", [1])]])
    asyncio.run(_until_led(admin, ["a", "b"], time.monotonic() + 30))
    assert admin.calls == 1


def test_gives_up_at_the_deadline_naming_the_topic() -> None:
    admin = FakeAdmin([[led("a", [1, -1]), led("b", [1])]])
    with pytest.raises(KafkaTimeoutError, match="a"):
        asyncio.run(_until_led(admin, ["a", "b"], time.monotonic() + 0.5))
    assert admin.calls >= 2
