"""The counted rank tree against a plain sorted list: ranks, pages and sizes after random
inserts, deletes and moves, with tiny buckets and fanout so that splits, merges, root
growth and root collapse all happen; plus persistence through RocksDB."""

from __future__ import annotations

from bisect import insort
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.engine.ranktree import RankTree
from streams.engine.storage import MemoryStore
from streams.runtime.state.rocksdb import RocksStore

INDEX = b"I\x00t"
TREE = b"T\x00t"

keys = st.binary(min_size=1, max_size=3)
ops = st.lists(
    st.tuples(st.sampled_from(["add", "add", "remove", "move"]), keys, keys), max_size=250
)


class Model:
    """A rank index with its tree, kept next to a sorted list of the same keys."""

    def __init__(self, store: MemoryStore | RocksStore, bucket: int, fanout: int, cache: int):
        self.store = store
        self.tree = RankTree(
            store, TREE, INDEX, bucket_max=bucket, fanout=fanout, cache_nodes=cache
        )
        self.keys: list[bytes] = []

    def replace(self, old: bytes | None, new: bytes | None) -> None:
        if old is not None:
            self.store.delete(INDEX, old)
            self.keys.remove(old)
        if new is not None:
            self.store.put(INDEX, new, b"")
            insort(self.keys, new)
        self.tree.move(old, new)

    def apply(self, op: str, a: bytes, b: bytes) -> None:
        present = set(self.keys)
        if op == "add" and a not in present:
            self.replace(None, a)
        elif op == "remove" and self.keys:
            self.replace(self.keys[len(a) * 7919 % len(self.keys)], None)
        elif op == "move" and self.keys and b not in present:
            self.replace(self.keys[a[0] % len(self.keys)], b)

    def check(self) -> None:
        tree = self.tree
        assert len(tree) == len(self.keys)
        for rank, key in enumerate(self.keys, 1):
            assert tree.rank(key) == rank, key
        assert tree.rank(b"\xff\xff\xff\xff") is None
        n = len(self.keys)
        for offset in {0, 1, n // 3, n // 2, n - 1, n, n + 5}:
            for limit in (1, 3, 10):
                if offset >= 0:
                    assert tree.page(offset, limit) == self.keys[offset : offset + limit]


@settings(max_examples=200, deadline=None)
@given(ops, st.sampled_from([(4, 4), (5, 4), (8, 6)]), st.sampled_from([8, 1000]))
def test_tree_matches_sorted_list(
    operations: list[tuple[str, bytes, bytes]], shape: tuple[int, int], cache: int
) -> None:
    model = Model(MemoryStore(), *shape, cache)
    for op, a, b in operations:
        model.apply(op, a, b)
    model.check()
    # Once synced, a fresh tree object and an empty cache read the same answers back.
    model.tree.sync()
    model.tree = RankTree(
        model.store, TREE, INDEX, bucket_max=shape[0], fanout=shape[1], cache_nodes=8
    )
    model.check()


def test_tree_grows_and_shrinks_back_to_one_node() -> None:
    model = Model(MemoryStore(), 8, 8, 64)
    for n in range(3000):
        model.replace(None, n.to_bytes(2, "big"))
    model.check()
    assert model.tree.root_level() >= 3  # several levels were built
    for key in list(model.keys):
        model.replace(key, None)
    model.check()
    assert model.tree.root_level() == 1 and len(model.tree) == 0


def test_tree_survives_a_restart_in_rocksdb(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "db")
    model = Model(store, 4, 4, 16)
    for n in range(200):
        model.replace(None, (n * 37 % 200).to_bytes(2, "big"))
    for n in range(0, 200, 3):
        model.replace(n.to_bytes(2, "big"), None)
    model.tree.sync()
    store.flush()
    expected = list(model.keys)
    store.close()
    reopened = RocksStore(tmp_path / "db")
    again = Model(reopened, 4, 4, 16)
    again.keys = expected
    again.check()
    reopened.close()
