"""RocksDB options for the engine's stores: what bounds their RAM and keeps reads cheap.

Kept apart from the store (rocksdb.py) because every knob here is a trade-off with its own
reasons, and the store's logic does not depend on any of them. What bounds RAM, and the
benchmarks behind the defaults: docs/design/state-layout.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Final

from rocksdict import (
    BlockBasedIndexType,
    BlockBasedOptions,
    Cache,
    DBCompressionType,
    Options,
    Rdict,
)

__all__ = ["MEMORY_PROPERTIES", "RocksTuning", "rocksdb_memory", "rocksdb_options"]

_MiB: Final = 1 << 20

_COMPRESSIONS: Final = {
    "lz4": DBCompressionType.lz4,
    "lz4hc": DBCompressionType.lz4hc,
    "zstd": DBCompressionType.zstd,
    "snappy": DBCompressionType.snappy,
    "none": DBCompressionType.none,
}


@dataclass(frozen=True, slots=True)
class RocksTuning:
    """RocksDB knobs, defaulted for a 2-core / 24 GiB worker holding a few partitions.

    * ``block_cache_bytes`` - one LRU cache *shared by every store of the process* (all
      partitions): hot user states, dedup ids and the top of each rank index stay in it.
      Index and filter blocks are charged to it too (``cache_index_and_filter_blocks``),
      so RocksDB's RAM does not grow with the number of users or SST files.
      64 MiB is small next to 24 GiB on purpose: the OS page cache holds the compressed
      SST files as well, and RAM use stays predictable.
    * ``write_buffer_bytes`` / ``max_write_buffer_number`` - memtable size and count per
      store: 32 MiB x 2 = at most 64 MiB of memtables per partition. Bigger memtables mean
      fewer flushes and L0 files; two let one fill while the other is flushed.
    * ``compression`` - lz4: cheap on CPU (2 cores are shared with the Python worker),
      and the values (24-byte rank heads, event ids) compress well. rocksdict's wheels
      are built with lz4; RocksDB refuses to open if it is not linked.
    * ``bloom_bits_per_key`` - ~1% false positives. Most dedup lookups and every first
      event of a user in a window miss; the filter answers them without reading a block.
    * ``background_jobs`` - flushes and compactions in parallel; one per core.
    * ``cache_index_and_filter_blocks`` - True keeps RocksDB's index and bloom blocks inside
      the block cache, so its RAM stays bounded whatever the number of keys, for two more
      cache lookups per read. False holds them outside the cache: ~1.5 bytes per key (10
      bits of filter plus index), growing with users.
    * ``partitioned_index_and_filters`` / ``metadata_block_bytes`` - split each SST's index
      and bloom filter into 4 KiB partitions under a small pinned top-level index
      (RocksDB's "partitioned index/filters"), so that no index or filter block outgrows a
      shard of the block cache (64 shards: 1 MiB each at 64 MiB). Needed *because* of the
      setting above: a whole-file filter grows with the SST (past a shard at about 900,000
      keys; the dedup ids alone get there, one per event), a block bigger than its shard is
      never kept, and every get of a missing key (each new event id, each user's first
      event in a window) would read and checksum it from disk again. SSTs written before
      keep their own format and read as before (``tests/unit/test_rocksdb_store.py``).
    """

    block_cache_bytes: int = 64 * _MiB
    write_buffer_bytes: int = 32 * _MiB
    max_write_buffer_number: int = 2
    compression: str = "lz4"
    bloom_bits_per_key: int = 10
    background_jobs: int = 2
    cache_index_and_filter_blocks: bool = True
    partitioned_index_and_filters: bool = True
    metadata_block_bytes: int = 4096


@cache
def _shared_block_cache(capacity: int) -> Cache:
    """One LRU block cache per capacity for the whole process (all partitions' stores)."""
    return Cache(capacity)


def rocksdb_options(tuning: RocksTuning | None = None, block_cache: Cache | None = None) -> Options:
    """Raw-mode RocksDB options from ``tuning`` (bytes keys and values, no pickling, the
    same mode faust's rocksdict store uses). Without ``block_cache`` a process-wide LRU
    cache of ``tuning.block_cache_bytes`` is shared by every store opened this way."""
    tuning = tuning or RocksTuning()
    try:
        compression = _COMPRESSIONS[tuning.compression]()
    except KeyError:
        raise ValueError(f"unknown compression {tuning.compression!r}") from None
    table = BlockBasedOptions()
    table.set_block_cache(block_cache or _shared_block_cache(tuning.block_cache_bytes))
    table.set_bloom_filter(tuning.bloom_bits_per_key, False)
    if tuning.cache_index_and_filter_blocks:
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        if tuning.partitioned_index_and_filters:
            table.set_index_type(BlockBasedIndexType.two_level_index_search())
            table.set_partition_filters(True)
            table.set_metadata_block_size(tuning.metadata_block_bytes)
            table.set_pin_top_level_index_and_filter(True)
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_block_based_table_factory(table)
    options.set_write_buffer_size(tuning.write_buffer_bytes)
    options.set_max_write_buffer_number(tuning.max_write_buffer_number)
    options.set_compression_type(compression)
    options.set_max_background_jobs(tuning.background_jobs)
    options.set_level_compaction_dynamic_level_bytes(True)
    return options


#: RocksDB's own accounting of the RAM it holds, by the names the metrics use.
MEMORY_PROPERTIES: Final = {
    "memtables": "rocksdb.cur-size-all-mem-tables",
    "table_readers": "rocksdb.estimate-table-readers-mem",
    "block_cache": "rocksdb.block-cache-usage",
}


def rocksdb_memory(dbs: Iterable[Rdict]) -> dict[str, int]:
    """Bytes RocksDB says it holds across ``dbs``, per :data:`MEMORY_PROPERTIES` kind.

    Memtables and table readers belong to each database and add up; the block cache is
    shared by every store of the process (:func:`rocksdb_options`), so every database
    reports the same cache and it is counted once (the largest figure, in case a store
    was opened with a cache of its own). With it, an operator can tell RocksDB's share of
    the worker's RSS from the rest."""
    totals = dict.fromkeys(MEMORY_PROPERTIES, 0)
    for db in dbs:
        for kind, prop in MEMORY_PROPERTIES.items():
            value = db.property_int_value(prop) or 0
            totals[kind] = (
                max(totals[kind], value) if kind == "block_cache" else totals[kind] + value
            )
    return totals
