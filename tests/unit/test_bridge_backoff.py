"""Reconnection delays and log-safe URLs."""

from __future__ import annotations

import pytest

from streams.apps.bridge.backoff import Backoff
from streams.runtime.settings import redact_url


def test_delays_double_up_to_the_cap_and_reset() -> None:
    backoff = Backoff(first=0.2, cap=1.0)
    assert [backoff.next() for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    assert backoff.attempt == 5
    backoff.reset()
    assert backoff.next() == 0.2


@pytest.mark.parametrize(("first", "cap", "factor"), [(0, 1, 2), (2, 1, 2), (0.1, 1, 0.5)])
def test_bad_schedules_are_refused(first: float, cap: float, factor: float) -> None:
    with pytest.raises(ValueError):
        Backoff(first, cap, factor)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://guest:guest@localhost:5672/", "amqp://guest@localhost:5672/"),
        ("amqps://u:s3cret@mq.example:5671/vh", "amqps://u@mq.example:5671/vh"),
        ("amqp://localhost/", "amqp://localhost/"),
    ],
)
def test_passwords_never_reach_the_log(url: str, shown: str) -> None:
    assert redact_url(url) == shown
