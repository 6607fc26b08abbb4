"""The shape of the counted rank tree that answers exact ranks (rust/src/ranktree.rs).

The tree splits a window's rank index into buckets of at most ``BUCKET_MAX`` keys under a
B+tree of fanout ``FANOUT``, so a rank costs O(log n) and an event O(depth). An ``Engine``
reads these two module values when it is built without an explicit shape, so that tests can
shrink them here and grow deep trees from a few users. ``RankTree(store, space, index,
bucket_max, fanout, cache_nodes)`` is one tree with its own node cache, for tests.
"""

from __future__ import annotations

from streams.engine._core import BUCKET_MAX, FANOUT, RankTree

__all__ = ["BUCKET_MAX", "FANOUT", "RankTree"]
