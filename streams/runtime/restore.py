"""Catching a partition's RocksDB up with its changelog topic before the partition is used.

The changelog position is kept in the database itself, in the write batch that applies the
state (:class:`~streams.runtime.state.rocksdb.RocksStore`), so position and state never
disagree: a warm restart reads only what it missed and a cold one (data folder wiped)
reads everything. The changelog is read ``read_committed``, so records of aborted
transactions never reach the state, and up to the last stable offset, which a
transactional log always reaches (faust's table recovery waits for ``highwater - 1``, a
commit marker no consumer sees, and never finishes). Design record:
docs/design/exactly-once.md (decision 4); tests: ``tests/integration/test_recovery.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]

from streams.runtime.state.rocksdb import RocksStore

log = logging.getLogger(__name__)

_FETCH_BYTES = 64 * 1024 * 1024  # above the largest changelog batch (16 MiB)


async def restore(
    store: RocksStore,
    bootstrap: str,
    topic: str,
    partition: int,
    *,
    options: Mapping[str, Any] | None = None,
) -> int:
    """Apply the changelog from the store's saved position to the last stable offset;
    returns the number of records applied. ``options``: the connection's security
    (:func:`streams.runtime.kafka_clients.kafka_options`); ``bootstrap`` wins over theirs."""
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(
        **{**(options or {}), "bootstrap_servers": bootstrap},
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",  # never skip state: a position below the log start
        fetch_max_bytes=_FETCH_BYTES,
        max_partition_fetch_bytes=_FETCH_BYTES,
    )
    await consumer.start()
    applied = 0
    started = time.monotonic()
    try:
        consumer.assign([tp])
        saved = store.changelog_offset
        if saved is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, saved + 1)
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            batches = await consumer.getmany(tp, timeout_ms=1000, max_records=50_000)
            for messages in batches.values():
                if messages:
                    store.apply_changelog([(m.key, m.value) for m in messages], messages[-1].offset)
                    applied += len(messages)
    finally:
        await consumer.stop()
    if applied:
        log.info(
            "restored %s[%d]: %d changelog records in %.2fs",
            topic,
            partition,
            applied,
            time.monotonic() - started,
        )
    return applied
