"""The ranking engine: one validated event in, the push-topic records it causes out.

Compiled: the engine is ``rust/src/engine.rs`` (and the modules it uses), exposed as
``streams.engine._core`` by ``rust/src/py.rs``; this module is its Python name. Every
decision of contract sections 1-3 that needs state is made there, against a store with the
``Store`` protocol (storage.py), with the wall clock injected (``clock`` returns epoch ms),
so that replay, tests and the stream job agree. Per-board metadata and each open window's
top-K are cached, bounded by boards and K (never by users) and rebuilt from the store on a
miss, so ``Engine.drop_caches`` makes the engine safe after the store changed under it.

``Engine(config, store, clock, tree_cache_nodes=4096, ranks=True)``: ``ranks=False`` keeps
no rank trees (exact ranks beyond the top-K unavailable; the records are the same).
``Engine.sync()`` writes the rank trees' pending counts; call it before persisting the store.
"""

from __future__ import annotations

from streams.engine._core import (
    BOARDS_SPACE,
    IDLE_BUDGET,
    Engine,
    Result,
    bucket_ms_for,
    is_future,
)
from streams.engine.events import Outcome

__all__ = [
    "BOARDS_SPACE",
    "IDLE_BUDGET",
    "Engine",
    "Outcome",
    "Result",
    "bucket_ms_for",
    "is_future",
]
