"""The topics of the stream job and the one rule that creates them.

Invariants:

* Every topic of the job exists, with ``settings.partitions`` partitions, its configuration
  (:func:`wanted_topics`) and a leader for each partition, before anything reads or writes
  it: before faust starts (:func:`ensure_topics`, run by ``rankstream worker`` and
  ``rankstream intake``) and, once more, before the rank stage first restores or writes
  (:class:`Declarer`), so that a worker app built without the command line needs no set-up
  of its own.
* Creation is idempotent and safe between workers: a topic another worker created first
  is simply there.
* faust creates only the topics it consumes, as its agents start, and an agent that
  subscribed to a topic before it existed never picks it up; a production broker usually
  does not auto-create topics. Design record: ``docs/design/by-board-delivery.md``
  (invariant 8).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError, KafkaTimeoutError  # type: ignore[import-untyped]

from streams.runtime.kafka_clients import check_kafka, kafka_options
from streams.runtime.publish import CHANGELOG_BATCH_BYTES
from streams.runtime.settings import Settings

log = logging.getLogger(__name__)


def by_board_topic(settings: Settings) -> str:
    return f"{settings.app_id}-scores-by-board"


def state_log_topic(settings: Settings) -> str:
    return f"{settings.app_id}-state-log"


#: Compacted (a key's last value is its state); accepts one unit's changelog batch.
STATE_LOG_CONFIG = {
    "cleanup.policy": "compact",
    "max.message.bytes": str(CHANGELOG_BATCH_BYTES + 1024 * 1024),
}


def wanted_topics(settings: Settings) -> dict[str, dict[str, str]]:
    """Every topic of the job with the configuration it is created with."""
    return {
        settings.scores_topic: {},
        by_board_topic(settings): {},
        settings.changes_topic: {},
        settings.dlq_topic: {},
        state_log_topic(settings): STATE_LOG_CONFIG,
    }


async def ensure_topics(settings: Settings, wait_s: float = 60.0) -> list[str]:
    """Create the missing topics (``settings.partitions`` each); returns their names.
    Waits up to ``wait_s`` for the broker, saying so, then raises :class:`KafkaError`;
    raises :class:`~streams.runtime.kafka_clients.SecuritySettingError` at once when the broker
    refuses the connection's TLS or login, which no wait fixes."""
    deadline = time.monotonic() + wait_s
    delay = 0.5
    options = kafka_options(settings)
    while True:
        admin = AIOKafkaAdminClient(**options)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(name, settings.partitions, settings.replication_factor, topic_configs=cfg)
                for name, cfg in wanted_topics(settings).items()
                if name not in existing
            ]
            if missing:
                # A topic another worker created meanwhile comes back as a per-topic
                # error in the response, which is fine: it exists.
                await admin.create_topics(missing)
                log.info("created topics: %s", ", ".join(t.name for t in missing))
            await _until_led(admin, list(wanted_topics(settings)), deadline)
            return [t.name for t in missing]
        except KafkaError as exc:
            await check_kafka(settings)  # a settings problem ends the wait with its reason
            if time.monotonic() + delay > deadline:
                raise
            log.warning(
                "waiting for Kafka at %s (%s); retry in %.1fs", settings.kafka_bootstrap, exc, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        finally:
            await admin.close()


class Declarer:
    """:func:`ensure_topics` once, on the first need: the rank stage's ``declare`` hook
    (:class:`~streams.runtime.publish.Outputs` awaits it before a unit's first record to a
    topic, the restore before reading the state log, a new assignment before its first
    unit). Concurrent first callers wait for the same creation; later calls cost nothing."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._done = False
        self._lock = asyncio.Lock()

    async def __call__(self, topic: str = "") -> None:
        """Every topic of the job exists (``topic`` names the one the caller needs)."""
        if self._done:
            return
        async with self._lock:
            if not self._done:
                await ensure_topics(self._settings)
                self._done = True


def led_partitions(described: dict[str, Any]) -> list[int] | None:
    """The partition ids of one topic of ``describe_topics``, or None until the topic
    exists with a leader for every partition."""
    partitions = described.get("partitions") or []
    if described.get("error_code") or not partitions:
        return None
    if any(p.get("leader", -1) < 0 for p in partitions):
        return None
    return sorted(p["partition"] for p in partitions)


async def _until_led(admin: AIOKafkaAdminClient, names: list[str], deadline: float) -> None:
    """Wait until the broker's metadata lists every topic with a leader per partition.

    Metadata can lag creation (a broker that just started, or just created the topics),
    and a group leader assigns partitions from the metadata it has: a topic missing there
    is assigned to nobody until the next rebalance.
    """
    while True:
        described = await admin.describe_topics(names)
        pending = [d.get("topic") for d in described if led_partitions(d) is None]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise KafkaTimeoutError(f"topics without a leader: {', '.join(map(str, pending))}")
        log.info("waiting for the broker to lead %s", ", ".join(map(str, pending)))
        await asyncio.sleep(0.2)
