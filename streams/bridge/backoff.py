"""Reconnection delays (pure): exponential from ``first`` up to ``cap``, reset on success.

No jitter: one bridge per group reconnects to one broker, so there is no herd to spread,
and a deterministic schedule keeps the logs readable ("retry 4 in 1.6s").
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["Backoff", "redact_url"]


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


def redact_url(url: str) -> str:
    """The URL without its password, for log lines (``amqp://guest@localhost:5672/``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
