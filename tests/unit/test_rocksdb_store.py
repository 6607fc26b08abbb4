"""RocksStore behaves exactly like MemoryStore, whatever the flush points, and across reopen."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
)

from streams.engine.config import BoardsConfig
from streams.engine.core import Engine, Result
from streams.engine.events import ScoreEvent
from streams.engine.storage import MemoryStore
from streams.runtime.state import (
    RocksStore,
    RocksTuning,
    rocksdb_memory,
    rocksdb_options,
    split_key,
)

from . import test_engine_property
from .test_engine_property import NOW, scenarios

# Byte prefixes of each other (D\0a / D\0ab, the "all" window space / a longer one that
# continues with \0), the empty space, and bytes at both ends of the range.
SPACES = [
    b"D\x00a",
    b"D\x00ab",
    b"U\x00x\x00all\x00",
    b"U\x00x\x00all",
    b"U\x00x\x00all\x00\x00",
    b"",
    b"\x00",
    b"\xff\x00",
]
EDGE_KEYS = [b"", b"\x00", b"\x00\x00", b"\x01", b"\x01\x02", b"\x02", b"a", b"a\x00", b"ab"]
KEYS = st.sampled_from([*EDGE_KEYS, b"\xff", b"\xff\xff", b"\xff\x00"]) | st.binary(max_size=4)
VALUES = st.binary(max_size=6)  # b"" included: the dedup space stores empty values
TINY = RocksTuning(block_cache_bytes=1 << 20, write_buffer_bytes=1 << 20)


def physical(space: bytes, key: bytes) -> bytes:
    return space + b"\x01" + key


def contents(store: MemoryStore | RocksStore) -> dict[bytes, list[tuple[bytes, bytes]]]:
    return {space: list(store.scan(space)) for space in SPACES}


class StoreMachine(RuleBasedStateMachine):
    """Random get/put/delete/scan/drop/flush/reopen against a MemoryStore model."""

    keys = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="rocksstore-")
        self.store = RocksStore(self.dir, TINY)
        self.model = MemoryStore()
        self.on_disk: dict[bytes, dict[bytes, bytes]] = {}  # the model at the last flush
        self.touched: set[tuple[bytes, bytes]] = set()  # put/delete since the last flush
        self.dropped: set[bytes] = set()

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @initialize(target=keys, key=KEYS)
    def first_key(self, key: bytes) -> bytes:
        return key

    @rule(target=keys, key=KEYS)
    def new_key(self, key: bytes) -> bytes:
        return key

    @rule(space=st.sampled_from(SPACES), key=keys, value=VALUES)
    def put(self, space: bytes, key: bytes, value: bytes) -> None:
        self.store.put(space, key, value)
        self.model.put(space, key, value)
        self.touched.add((space, key))

    @rule(space=st.sampled_from(SPACES), key=keys)
    def delete(self, space: bytes, key: bytes) -> None:
        self.store.delete(space, key)
        self.model.delete(space, key)
        self.touched.add((space, key))

    @rule(space=st.sampled_from(SPACES), key=keys)
    def get(self, space: bytes, key: bytes) -> None:
        assert self.store.get(space, key) == self.model.get(space, key)

    @rule(space=st.sampled_from(SPACES), after=st.none() | keys)
    def scan(self, space: bytes, after: bytes | None) -> None:
        assert list(self.store.scan(space, after)) == list(self.model.scan(space, after))

    @rule(space=st.sampled_from(SPACES), after=st.none() | keys)
    def seek(self, space: bytes, after: bytes | None) -> None:
        """Take the first item and abandon the scan, as TopK does."""
        got = next(iter(self.store.scan(space, after)), None)
        assert got == next(iter(self.model.scan(space, after)), None)

    @rule(space=st.sampled_from(SPACES))
    def drop(self, space: bytes) -> None:
        self.store.drop(space)
        self.model.drop(space)
        self.dropped.add(space)

    @rule()
    def flush(self) -> None:
        changes = self.store.flush()
        keys = [key for key, _ in changes]
        assert len(keys) == len(set(keys)), "each changed key once"
        expected = {physical(s, k) for s, k in self.touched}
        for space in self.dropped:
            expected |= {physical(space, k) for k in self.on_disk.get(space, {})}
        assert set(keys) == expected
        for key, value in changes:
            assert self.model.get(*split_key(key)) == value, "the final value"
        assert self.store.pending == 0
        self.on_disk = {space: dict(self.model.scan(space)) for space in SPACES}
        self.touched.clear()
        self.dropped.clear()

    @precondition(lambda self: not self.touched and not self.dropped)
    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = RocksStore(self.dir, TINY)
        everything = [(k, v) for k, v in self.store.db.items()]
        assert everything == sorted(
            (physical(space, k), v) for space in SPACES for k, v in self.model.scan(space)
        ), "nothing left outside the spaces"

    @rule()
    def check_all(self) -> None:
        assert contents(self.store) == contents(self.model)


StoreMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)
test_store_machine = StoreMachine.TestCase


def test_flush_returns_each_key_once_with_its_final_value(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "db")
    store.put(b"U\x00b", b"u1", b"v1")
    store.put(b"U\x00b", b"u1", b"v2")
    store.delete(b"U\x00b", b"u1")
    store.put(b"U\x00b", b"u2", b"x")
    store.put(b"U\x00b", b"u2", b"y")
    assert sorted(store.flush()) == [(b"U\x00b\x01u1", None), (b"U\x00b\x01u2", b"y")]
    assert store.flush() == []
    store.put(b"I\x00b", b"k1", b"")
    store.put(b"I\x00b", b"k2", b"")
    store.put(b"I\x00bc", b"k1", b"")  # a neighbour space, untouched by the drop
    store.flush()
    store.put(b"I\x00b", b"k3", b"")
    store.drop(b"I\x00b")
    store.put(b"I\x00b", b"k2", b"again")
    assert list(store.scan(b"I\x00b")) == [(b"k2", b"again")]
    assert sorted(store.flush()) == [
        (b"I\x00b\x01k1", None),
        (b"I\x00b\x01k2", b"again"),
        (b"I\x00b\x01k3", None),
    ]
    assert list(store.scan(b"I\x00b")) == [(b"k2", b"again")]
    assert list(store.scan(b"I\x00bc")) == [(b"k1", b"")]
    store.close()


def test_space_with_separator_is_refused(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "db")
    with pytest.raises(ValueError, match="x01"):
        store.put(b"a\x01b", b"c", b"")
    with pytest.raises(ValueError, match="x01"):
        store.get(b"a\x01b", b"c")
    store.close()


def test_borrowed_rdict_stays_open(tmp_path: Path) -> None:
    from rocksdict import Rdict

    db = Rdict(str(tmp_path / "db"), rocksdb_options(TINY))
    store = RocksStore(db)
    store.put(b"M\x00b", b"watermark", b"1")
    store.flush()
    store.close()
    assert db[b"M\x00b\x01watermark"] == b"1"
    db.close()


# -- the engine on RocksStore -------------------------------------------------------------

Scenario = tuple[BoardsConfig, list[ScoreEvent]]
ENGINE_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@ENGINE_SETTINGS
@given(scenarios(), st.integers(1, 10))
def test_engine_on_rocksdb_folds_to_reference(scenario: Scenario, every: int) -> None:
    """test_engine_property's own check, with the engine on a RocksStore flushed every
    ``every`` events (its store and engine swapped in for the duration of one example)."""

    class FlushingEngine(Engine):
        applied = 0

        def apply(self, event: ScoreEvent) -> Result:
            result = super().apply(event)
            self.applied += 1
            if self.applied % every == 0:
                store.flush()
            return result

    check = test_engine_property.test_engine_folds_to_reference.hypothesis.inner_test  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory(prefix="rocksstore-") as path:
        store = RocksStore(path, TINY)
        try:
            with mock.patch.multiple(
                test_engine_property, Engine=FlushingEngine, MemoryStore=lambda: store
            ):
                check(scenario, True)  # the stream job keeps rank trees
        finally:
            store.close()


@ENGINE_SETTINGS
@given(scenarios(), st.integers(1, 10), st.data())
def test_engine_on_rocksdb_matches_memory(
    scenario: Scenario, every: int, data: st.DataObject
) -> None:
    """Every Result equal to the engine on a MemoryStore, with flushes every ``every`` events
    and, at some flushes, a restart: store reopened from disk, engine caches empty."""
    config, events = scenario
    model = MemoryStore()
    memory = Engine(config, model, lambda: NOW)
    with tempfile.TemporaryDirectory(prefix="rocksstore-") as path:
        store = RocksStore(path, TINY)
        engine = Engine(config, store, lambda: NOW)
        try:
            for n, event in enumerate(events, 1):
                assert engine.apply(event) == memory.apply(event), event
                if n % every == 0:
                    store.flush()
                    if data.draw(st.booleans(), label="restart"):
                        store.close()
                        store = RocksStore(path, TINY)
                        engine = Engine(config, store, lambda: NOW)
            store.flush()
            state = [
                (physical(space, key), value)
                for space in model.spaces()
                for key, value in model.scan(space)
            ]
            assert list(store.db.items()) == sorted(state), "the same state, retention included"
        finally:
            store.close()


def test_scan_merges_writes_made_after_an_earlier_scan(tmp_path: Path) -> None:
    """The overlay's sorted keys are built by the first scan and kept up to date after."""
    store = RocksStore(tmp_path / "db")
    for key in (b"a", b"c", b"e"):
        store.put(b"I", key, key)
    store.flush()
    store.put(b"I", b"b", b"b")
    assert [k for k, _ in store.scan(b"I")] == [b"a", b"b", b"c", b"e"]
    store.delete(b"I", b"c")  # on disk only
    store.put(b"I", b"d", b"d")
    store.delete(b"I", b"a")
    assert [k for k, _ in store.scan(b"I")] == [b"b", b"d", b"e"]
    assert [k for k, _ in store.scan(b"I", b"b")] == [b"d", b"e"]
    store.close()


def _table_properties(store: RocksStore) -> dict[str, str]:
    """RocksDB's aggregated SST properties (``name=value; ...``) as a dict."""
    text = store.db.property_value("rocksdb.aggregated-table-properties") or ""
    return dict(part.strip().split("=", 1) for part in text.split(";") if "=" in part)


def _write_sst(store: RocksStore, keys: int) -> None:
    for i in range(keys):
        store.put(b"D\x00b", f"event-{i:08d}".encode(), b"")
    store.flush()
    store.db.flush()  # memtable -> SST, so the table properties describe a written file


@pytest.mark.parametrize(
    ("tuning", "expect_partitions"),
    [(RocksTuning(), True), (RocksTuning(partitioned_index_and_filters=False), False)],
    ids=["default", "unpartitioned"],
)
def test_index_and_filters_are_partitioned_by_default(
    tmp_path: Path, tuning: RocksTuning, expect_partitions: bool
) -> None:
    """A whole-file filter of a big SST (~1.2 bytes per key: 2 MiB at 1.7M keys) is larger
    than one shard of the 64 MiB block cache (64 shards of 1 MiB), so it never stays cached
    and every missing-key get read and checksummed it from disk: the engine slowed down
    4x past 500,000 users (bench.engine_memory). Partitions of 4 KiB do stay cached."""
    store = RocksStore(tmp_path / "db", tuning)
    _write_sst(store, 50_000)
    props = _table_properties(store)
    assert int(props["# entries"]) == 50_000
    if expect_partitions:
        # 50,000 keys of 21 bytes with 4 KiB metadata blocks: dozens of partitions
        assert int(props["# index partitions"]) > 10
        assert int(props["top-level index size"]) < 4096
    else:
        assert "# index partitions" not in props
    store.close()


def test_store_written_unpartitioned_reads_the_same_partitioned(tmp_path: Path) -> None:
    """Each SST records its own format, so a data folder written before partitioning was
    the default opens and reads unchanged: no migration for a worker's existing state."""
    old = RocksStore(tmp_path / "db", RocksTuning(partitioned_index_and_filters=False))
    _write_sst(old, 5_000)
    old.close()
    new = RocksStore(tmp_path / "db", RocksTuning())
    assert new.get(b"D\x00b", b"event-00004999") == b""
    assert new.get(b"D\x00b", b"event-00005000") is None
    assert sum(1 for _ in new.scan(b"D\x00b")) == 5_000
    new.close()


def test_rocksdb_memory_sums_per_store_parts_and_counts_the_shared_cache_once(
    tmp_path: Path,
) -> None:
    stores = [RocksStore(tmp_path / f"db{i}", TINY) for i in range(2)]
    for n, store in enumerate(stores, 1):
        _write_sst(store, 2_000 * n)
        for i in range(0, 2_000 * n, 7):  # reads fill the shared block cache
            assert store.get(b"D\x00b", f"event-{i:08d}".encode()) == b""
        store.put(b"U", b"pending", b"x" * 1000)
        store.flush()  # into the memtable, not yet an SST
    alone = [rocksdb_memory([store.db]) for store in stores]
    both = rocksdb_memory(store.db for store in stores)
    assert set(both) == {"memtables", "table_readers", "block_cache"}
    assert all(part["memtables"] > 1000 for part in alone)
    assert both["memtables"] == alone[0]["memtables"] + alone[1]["memtables"]
    assert both["table_readers"] == alone[0]["table_readers"] + alone[1]["table_readers"]
    # one LRU cache per capacity and process: both stores report the same usage
    assert 0 < both["block_cache"] == alone[0]["block_cache"] == alone[1]["block_cache"]
    for store in stores:
        store.close()
