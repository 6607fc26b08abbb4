"""Reconnection delays (pure): exponential from ``first`` up to ``cap``, reset on success.

No jitter: one bridge per group reconnects to one broker, so there is no herd to spread,
and a deterministic schedule keeps the logs readable ("retry 4 in 1.6s").
"""

from __future__ import annotations

__all__ = ["Backoff"]


class Backoff:
    def __init__(self, first: float = 0.2, cap: float = 5.0, factor: float = 2.0) -> None:
        if not 0 < first <= cap or factor < 1:
            raise ValueError("need 0 < first <= cap and factor >= 1")
        self.first, self.cap, self.factor = first, cap, factor
        self.attempt = 0

    def next(self) -> float:
        """The delay before the next attempt; each call counts one more failed attempt."""
        delay = min(self.cap, self.first * self.factor**self.attempt)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
