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
from streams.state import RocksStore, RocksTuning, rocksdb_options, split_key

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
