"""The nodes of the counted rank tree (ranktree.py): their byte encoding and their cache.

Kept apart from the tree's algorithms because this is the part that decides what a node
costs: every count change of an event re-encodes a node (so counts are a flat u64 array,
cheap to write), structure is written only on a split or merge, and the cache bounds
decoded nodes by a node count, never by users, and writes dirty counts once per batch.
"""

from __future__ import annotations

import sys
from array import array

from streams.engine.storage import Store

_LITTLE = sys.byteorder == "little"


class Node:
    __slots__ = ("counts", "kids", "level", "nid", "seps")

    def __init__(
        self, nid: int, level: int, seps: list[bytes], counts: list[int], kids: list[int]
    ) -> None:
        self.nid = nid
        self.level = level  # 1: children are buckets
        self.seps = seps
        self.counts = counts
        self.kids = kids


def u64(values: list[int]) -> bytes:
    packed = array("Q", values)
    if not _LITTLE:
        packed.byteswap()
    return packed.tobytes()


def from_u64(raw: bytes, code: str = "Q") -> list[int]:
    packed = array(code)
    packed.frombytes(raw)
    if not _LITTLE:
        packed.byteswap()
    return packed.tolist()


def encode_structure(node: Node) -> bytes:
    """level (1 byte) | n seps (4) | n kids (4) | seps' lengths (u16 each) | seps | kids (u32)."""
    seps = node.seps
    lengths = array("H", [len(s) for s in seps])
    kids = array("I", node.kids)
    if not _LITTLE:
        lengths.byteswap()
        kids.byteswap()
    head = bytes([node.level]) + len(seps).to_bytes(4, "little") + len(kids).to_bytes(4, "little")
    return head + lengths.tobytes() + b"".join(seps) + kids.tobytes()


def decode_structure(nid: int, raw: bytes, counts: list[int]) -> Node:
    level = raw[0]
    n_seps = int.from_bytes(raw[1:5], "little")
    n_kids = int.from_bytes(raw[5:9], "little")
    at = 9 + 2 * n_seps
    lengths = from_u64(raw[9:at], "H")
    seps = []
    for length in lengths:
        seps.append(raw[at : at + length])
        at += length
    kids = from_u64(raw[at : at + 4 * n_kids], "I")
    return Node(nid, level, seps, counts, kids)


def node_id(nid: int) -> bytes:
    return nid.to_bytes(4, "big")


class NodeCache:
    """Decoded tree nodes of all windows of one engine and store, least recently used
    evicted first; bounded by ``max_nodes`` (a node is at most ``ranktree.FANOUT``
    separators), never by users.

    Count changes are written back lazily: a node whose counts changed is *dirty* until
    :meth:`sync` (or its eviction) writes it, so a node touched by every event of a batch
    (the root) is encoded and written once per batch, not once per event. Whoever persists
    the store must call :meth:`sync` first (:meth:`~streams.engine.core.Engine.sync`).
    Structure changes (splits, merges) are written at once.
    """

    __slots__ = ("_dirty", "_max", "_nodes", "_store")

    def __init__(self, store: Store, max_nodes: int = 4096) -> None:
        self._store = store
        self._max = max(8, max_nodes)
        self._nodes: dict[tuple[bytes, int], Node] = {}
        self._dirty: set[tuple[bytes, int]] = set()

    def get(self, space: bytes, nid: int) -> Node | None:
        key = (space, nid)
        node = self._nodes.pop(key, None)
        if node is not None:
            self._nodes[key] = node
        return node

    def put(self, space: bytes, node: Node) -> None:
        nodes = self._nodes
        nodes[(space, node.nid)] = node
        if len(nodes) > self._max:
            oldest = next(iter(nodes))
            if oldest in self._dirty:
                self._write(oldest)
            del nodes[oldest]

    def touch(self, space: bytes, node: Node) -> None:
        """``node``'s counts changed; it is in the cache (it was just read through it)."""
        key = (space, node.nid)
        if key not in self._nodes:  # evicted since it was read: keep it, it is current
            self.put(space, node)
        self._dirty.add(key)

    def sync(self) -> None:
        """Write the counts of every dirty node to the store."""
        for key in self._dirty:
            self._write(key, keep=True)
        self._dirty.clear()

    def _write(self, key: tuple[bytes, int], keep: bool = False) -> None:
        space, nid = key
        node = self._nodes[key]
        self._store.put(space, b"c" + node_id(nid), u64(node.counts))
        if not keep:
            self._dirty.discard(key)

    def forget(self, space: bytes, nid: int | None = None) -> None:
        """Drop one node, or every node of ``space`` (retention), unwritten changes too."""
        if nid is not None:
            self._nodes.pop((space, nid), None)
            self._dirty.discard((space, nid))
            return
        for key in [k for k in self._nodes if k[0] == space]:
            del self._nodes[key]
            self._dirty.discard(key)

    def clear(self) -> None:
        """Forget everything, unwritten changes too (the store changed under the engine)."""
        self._nodes.clear()
        self._dirty.clear()
