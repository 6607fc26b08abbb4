"""Exact ranks in O(log n): a counted B+tree over one window's rank index.

The rank index (space ``I``, see codec.py) already holds every user of a window in rank
order, one key per user, so the top-K is a prefix scan. What it cannot say cheaply is
*how many* keys come before a given one: a user at rank 400,000 would need a scan of
400,000 keys. This tree answers that. It does not copy the index keys; it splits the index
into *buckets*, consecutive key ranges of at most ``bucket_max`` keys, and keeps a B+tree
of separator keys with a count per child:

* a node holds separators ``seps`` (sorted) and one count per child; child ``i`` covers
  the keys ``k`` with ``seps[i-1] < k <= seps[i]`` (open ends at the node's own bounds);
* level-1 nodes have buckets as children (nothing stored for a bucket but its count);
  higher levels have nodes as children (``kids``, node ids).

Rank of a key: walk root to bucket summing the counts to the left (O(depth x fanout) in C
via ``sum``), then scan the bucket in the index (at most ``bucket_max`` keys). Position
``p`` (top-N with an offset): walk down by counts, then seek into the bucket. An index
update costs a count change on the root-to-bucket path(s) - nothing at all when a user
moves within one bucket - and now and then a bucket split (one scan of the bucket) or
merge (no scan), so the per-event cost is O(depth) with depth 3 at 1M users.

Each node is stored through the engine's :class:`~streams.engine.storage.Store` as two
values in the window's own space ``T``: its structure (``s`` + id: level, separators,
kids; written only on a split or merge) and its counts (``c`` + id: an array of u64,
written on every count change, cheap to encode). The tree's metadata (root id, next id)
is ``m``. So the tree lives in RocksDB and its changelog like all state, survives restarts
and is dropped with the window. Decoded nodes are held in a :class:`NodeCache` bounded by
a node count (a setting), never by users; nodes, their encoding and that cache live in
treenodes.py.

The tree must see every index change: the engine calls :meth:`RankTree.move` right after
it wrote the index (the bucket scans read the index as it is after the change).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate, islice

from streams.engine.storage import Store
from streams.engine.treenodes import (
    Node,
    NodeCache,
    decode_structure,
    encode_structure,
    from_u64,
    node_id,
    u64,
)

__all__ = ["BUCKET_MAX", "FANOUT", "NodeCache", "RankTree"]

# Read by RankTree() at construction time, so that tests can monkeypatch them here.
BUCKET_MAX = 128
FANOUT = 128
_META = b"m"


class RankTree:
    """The counted tree of one window; see the module docstring."""

    __slots__ = (
        "_bucket_max",
        "_cache",
        "_fanout",
        "_index",
        "_next",
        "_persisted",
        "_root",
        "_space",
        "_store",
    )

    def __init__(
        self,
        store: Store,
        space: bytes,
        index: bytes,
        cache: NodeCache,
        bucket_max: int | None = None,
        fanout: int | None = None,
    ) -> None:
        """``space`` holds the tree, ``index`` is the rank index it counts."""
        self._store = store
        self._space = space
        self._index = index
        self._cache = cache
        self._bucket_max = max(4, bucket_max or BUCKET_MAX)
        self._fanout = max(4, fanout or FANOUT)
        self._root: int | None = None
        self._next = 0
        self._persisted = False

    # -- queries -----------------------------------------------------------------------

    def __len__(self) -> int:
        return sum(self._node(self._root_id()).counts)

    def rank(self, key: bytes) -> int | None:
        """1-based position of ``key`` in the index, or None when it is not there."""
        before = 0
        node = self._node(self._root_id())
        low: bytes | None = None
        while True:
            i = bisect_left(node.seps, key)
            before += sum(node.counts[:i])
            if i:
                low = node.seps[i - 1]
            if node.level == 1:
                break
            node = self._node(node.kids[i])
        for n, (found, _) in enumerate(self._store.scan(self._index, low)):
            if n >= node.counts[i] or found > key:
                return None
            if found == key:
                return before + n + 1
        return None

    def seek(self, position: int) -> tuple[bytes | None, int]:
        """Where the index entry at 0-based ``position`` is: ``(after, skip)`` such that
        ``store.scan(index, after)`` yields it after skipping ``skip`` entries."""
        node = self._node(self._root_id())
        low: bytes | None = None
        while True:
            sums = list(accumulate(node.counts))
            i = bisect_right(sums, position)
            if i >= len(sums):  # past the end: point after the last key
                i = len(sums) - 1
            position -= sums[i - 1] if i else 0
            if i:
                low = node.seps[i - 1]
            if node.level == 1:
                return low, position
            node = self._node(node.kids[i])

    def page(self, offset: int, limit: int) -> list[bytes]:
        """Index keys at 0-based positions ``offset`` .. ``offset + limit - 1``."""
        if limit <= 0 or offset < 0:
            return []
        after, skip = self.seek(offset)
        scan = self._store.scan(self._index, after)
        return [key for key, _ in islice(scan, skip, skip + limit)]

    # -- maintenance -------------------------------------------------------------------

    def move(self, old: bytes | None, new: bytes | None) -> None:
        """The index key ``old`` was replaced by ``new`` (None: absent), already written."""
        if old == new:
            return
        full_old = None if old is None else self._path(old)
        if full_old is not None and new is not None:
            # Most moves stay inside the old key's bucket: no count changes at all.
            low = high = None
            for node, i in full_old:
                seps = node.seps
                if i:
                    low = seps[i - 1]
                if i < len(seps):
                    high = seps[i]
            if (low is None or new > low) and (high is None or new <= high):
                return
        old_path = full_old
        new_path = None if new is None else self._path(new)
        if old_path is not None and new_path is not None:
            # Shared prefix of both paths (same node, same child): counts unchanged there.
            same = 0
            for (a, i), (b, j) in zip(old_path, new_path, strict=True):
                if a is not b or i != j:
                    break
                same += 1
            old_path, new_path = old_path[same:], new_path[same:]
        if old_path is not None:
            for node, i in old_path:
                node.counts[i] -= 1
                self._save_counts(node)
        split = False
        if new_path is not None:
            for node, i in new_path:
                node.counts[i] += 1
                self._save_counts(node)
            bottom, i = new_path[-1]
            if bottom.counts[i] > self._bucket_max:
                assert new is not None
                self._split_bucket(new)
                split = True
        if old is not None and full_old is not None:
            path = self._path(old) if split else full_old  # a split may have moved it
            bottom, i = path[-1]
            counts = bottom.counts
            neighbour = i + 1 if i + 1 < len(counts) else i - 1
            if neighbour >= 0 and counts[i] + counts[neighbour] <= self._bucket_max // 2:
                self._merge_buckets(old)
            elif neighbour < 0 and len(path) > 1:
                self._shrink(path)

    def _path(self, key: bytes) -> list[tuple[Node, int]]:
        node = self._node(self._root_id())
        path = []
        while True:
            i = bisect_left(node.seps, key)
            path.append((node, i))
            if node.level == 1:
                return path
            node = self._node(node.kids[i])

    def _bounded_path(self, key: bytes) -> tuple[list[tuple[Node, int]], bytes | None]:
        """The path to ``key``'s bucket and the bucket's exclusive lower bound."""
        path = self._path(key)
        low = None
        for node, i in path:
            if i:
                low = node.seps[i - 1]
        return path, low

    def _split_bucket(self, key: bytes) -> None:
        path, low = self._bounded_path(key)
        node, i = path[-1]
        count = node.counts[i]
        half = count // 2
        found = next(islice(self._store.scan(self._index, low), half - 1, half), None)
        assert found is not None, "the index holds fewer keys than the tree counts"
        node.seps.insert(i, found[0])
        node.counts[i : i + 1] = [half, count - half]
        self._save(node)
        depth = len(path) - 1
        while depth >= 0 and len(path[depth][0].counts) > self._fanout:
            self._split_node(path, depth)
            depth -= 1

    def _split_node(self, path: list[tuple[Node, int]], depth: int) -> None:
        node = path[depth][0]
        mid = len(node.counts) // 2
        promoted = node.seps[mid - 1]
        right = Node(
            self._new_id(),
            node.level,
            node.seps[mid:],
            node.counts[mid:],
            node.kids[mid:] if node.level > 1 else [],
        )
        del node.seps[mid - 1 :], node.counts[mid:]
        if node.level > 1:
            del node.kids[mid:]
        self._save(node)
        self._save(right)
        if depth == 0:
            root = Node(
                self._new_id(),
                node.level + 1,
                [promoted],
                [sum(node.counts), sum(right.counts)],
                [node.nid, right.nid],
            )
            self._save(root)
            self._root = root.nid
            self._save_meta()
            return
        parent, at = path[depth - 1]
        parent.seps.insert(at, promoted)
        parent.kids.insert(at + 1, right.nid)
        parent.counts[at : at + 1] = [sum(node.counts), sum(right.counts)]
        self._save(parent)

    def _merge_buckets(self, key: bytes) -> None:
        path = self._path(key)
        node, i = path[-1]
        a = i if i + 1 < len(node.counts) else i - 1
        node.counts[a] += node.counts.pop(a + 1)
        del node.seps[a]
        self._save(node)
        self._shrink(path)

    def _shrink(self, path: list[tuple[Node, int]]) -> None:
        """Merge underfull nodes on ``path`` (bottom up) with a sibling, then drop roots
        with a single child, so that churn never leaves a sparse, deep tree behind."""
        for depth in range(len(path) - 1, 0, -1):
            if len(path[depth][0].counts) <= self._fanout // 4:
                self._merge_node(path, depth)
        self._collapse_root()

    def _merge_node(self, path: list[tuple[Node, int]], depth: int) -> bool:
        """Merge an underfull node with a sibling; True when the parent lost a child."""
        node = path[depth][0]
        parent, at = path[depth - 1]
        if len(parent.kids) < 2 or parent.kids[at] != node.nid:
            return False
        b = at + 1 if at + 1 < len(parent.kids) else at - 1
        sibling = self._node(parent.kids[b])
        if len(node.counts) + len(sibling.counts) > self._fanout:
            return False
        a = min(at, b)
        left, right = (node, sibling) if a == at else (sibling, node)
        left.seps += [parent.seps[a], *right.seps]
        left.counts += right.counts
        left.kids += right.kids
        parent.counts[a] += parent.counts.pop(a + 1)
        del parent.seps[a], parent.kids[a + 1]
        self._save(left)
        self._save(parent)
        self._delete(right)
        return True

    def _collapse_root(self) -> None:
        root = self._node(self._root_id())
        while root.level > 1 and len(root.kids) == 1:
            child = self._node(root.kids[0])
            self._delete(root)
            self._root = child.nid
            self._save_meta()
            root = child

    # -- storage -----------------------------------------------------------------------

    def _root_id(self) -> int:
        if self._root is None:
            raw = self._store.get(self._space, _META)
            if raw is None:
                self._root, self._next = 0, 1
            else:
                self._root = int.from_bytes(raw[:4], "big")
                self._next = int.from_bytes(raw[4:8], "big")
                self._persisted = True
        return self._root

    def _new_id(self) -> int:
        self._root_id()
        nid = self._next
        self._next += 1
        self._save_meta()
        return nid

    def _save_meta(self) -> None:
        assert self._root is not None
        self._persisted = True
        self._store.put(self._space, _META, node_id(self._root) + node_id(self._next))

    def _node(self, nid: int) -> Node:
        node = self._cache.get(self._space, nid)
        if node is not None:
            return node
        store, space, key = self._store, self._space, node_id(nid)
        raw = store.get(space, b"s" + key)
        if raw is None:  # a tree that was never written: one empty bucket
            node = Node(nid, 1, [], [0], [])
        else:
            counts = store.get(space, b"c" + key)
            assert counts is not None, "a tree node without its counts"
            node = decode_structure(nid, raw, from_u64(counts))
        self._cache.put(space, node)
        return node

    def _save_counts(self, node: Node) -> None:
        if not self._persisted:  # the first write of a new tree
            self._save(node)
        else:
            self._cache.touch(self._space, node)

    def _save(self, node: Node) -> None:
        if not self._persisted:
            self._root_id()
            self._save_meta()
        key = node_id(node.nid)
        self._store.put(self._space, b"s" + key, encode_structure(node))
        self._store.put(self._space, b"c" + key, u64(node.counts))
        self._cache.put(self._space, node)
        self._cache.touch(self._space, node)  # later count changes of the batch

    def _delete(self, node: Node) -> None:
        key = node_id(node.nid)
        self._store.delete(self._space, b"s" + key)
        self._store.delete(self._space, b"c" + key)
        self._cache.forget(self._space, node.nid)
