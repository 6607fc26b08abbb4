"""Keep one bridge path running: run its session, and after a failure wait and reconnect.

A session raises :class:`Unavailable` naming what it could not reach ("Kafka at
localhost:9092"); the supervisor logs that it is waiting for it and retries with
exponential backoff. :class:`BridgeConfigError` is not retried: no amount of waiting
fixes a queue declared with other properties, so the process exits with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from streams.apps.bridge.backoff import Backoff
from streams.apps.bridge.metrics import BridgeMetrics
from streams.apps.cliargs import describe_error

__all__ = ["BridgeConfigError", "Session", "Unavailable", "supervise"]

log = logging.getLogger("rankstream.bridge")

#: A session runs until it fails; it calls its argument once it is connected.
Session = Callable[[Callable[[], None]], Awaitable[None]]


class Unavailable(Exception):
    """A service the session needs is down or stopped answering."""

    def __init__(self, what: str, kind: str, cause: BaseException | str) -> None:
        self.what, self.kind = what, kind
        self.cause = cause if isinstance(cause, str) else describe_error(cause)
        super().__init__(f"{what}: {self.cause}")


class BridgeConfigError(Exception):
    """A setting contradicts the brokers' state (e.g. a queue declared differently)."""


async def supervise(path: str, session: Session, backoff: Backoff, metrics: BridgeMetrics) -> None:
    """Run ``session`` forever; only cancellation or a config error ends this."""
    while True:
        try:
            await session(backoff.reset)
            failure = Unavailable("the session", "unknown", "ended unexpectedly")
        except (asyncio.CancelledError, BridgeConfigError):
            raise
        except Unavailable as exc:
            failure = exc
        except Exception as exc:  # unforeseen: log it fully, then reconnect all the same
            log.exception("bridge %s: unexpected error; reconnecting", path)
            failure = Unavailable("a fresh session", "unknown", exc)
        delay = backoff.next()
        metrics.retries.labels(path=path, waiting_for=failure.kind).inc()
        log.warning(
            "bridge %s: waiting for %s (%s); retry %d in %.1fs",
            path,
            failure.what,
            failure.cause,
            backoff.attempt,
            delay,
        )
        await asyncio.sleep(delay)
