"""One board's remembered event ids, bounded by the dedup horizon (contract section 2).

Semantics (what the reference model restates): an id is remembered together with the
*bucket* of its event's ``ts``: buckets are ``bucket_ms`` wide (an eighth of the horizon,
at least a second) and named by their end. An id is a duplicate while its bucket has not
fallen wholly behind the horizon, i.e. while ``end > watermark - horizon``, whatever the
duplicate's own ``ts``. Once the bucket is behind, the id counts as forgotten, at once,
whether or not its keys are still in the store: the physical clean-up is lazy and bounded
(a budget per call), and never changes an answer. So ids live between ``horizon`` and
``horizon + bucket_ms`` of event time behind the watermark.

Key layout (all through the :class:`~streams.engine.storage.Store` interface):

* ``D\\0<board>``, key ``event_id``: value = the bucket end, 8 bytes big-endian (biased);
  an empty value means "forever" - ids stored before the horizon existed, and every id
  of a board with ``dedup_seconds = 0``. So old state keeps working: its ids stay seen.
* ``Q\\0<board>``, key = bucket end (8 bytes, sorts in time order): value = (ids put in
  the bucket, ids already cleaned up), 8 bytes each. Bounded by the live buckets (~9).
* ``X\\0<board>\\0<end>``, key = the id's sequence number in its bucket (8 bytes): value =
  the id. Cleaning a bucket walks its sequence numbers with point reads - no scan, so
  neither store pays for ordering, and each step is one bounded piece of work - deleting
  each ``X`` key and its ``D`` key (unless that id was stored again since, in a newer
  bucket, after it had been forgotten). The bucket's ``Q`` row goes last.
"""

from __future__ import annotations

from streams.engine.codec import board_space
from streams.engine.storage import Store

_BIAS = 1 << 63
#: Clean-up budget (ids) per watermark move of an event; enough to keep up with any input
#: rate (each event adds one id) while bounding the work one event can cause.
EVENT_BUDGET = 64


def _enc(value: int) -> bytes:
    return (value + _BIAS).to_bytes(8, "big")


def _dec(raw: bytes) -> int:
    return int.from_bytes(raw, "big") - _BIAS


def bucket_ms_for(horizon_ms: int) -> int:
    """Width of one event-time bucket for a horizon (0: no buckets, ids kept forever)."""
    return max(1000, horizon_ms // 8) if horizon_ms > 0 else 0


class Dedup:
    """The dedup set of one board; see the module docstring for semantics and layout."""

    __slots__ = (
        "_buckets",
        "_store",
        "board",
        "bucket_ms",
        "horizon_ms",
        "ids",
        "list_space",
        "next_expiry",
    )

    def __init__(self, store: Store, board: str, dedup_seconds: int) -> None:
        self._store = store
        self.board = board.encode()
        self.ids = board_space(b"D", board)
        self.list_space = board_space(b"Q", board)
        self.horizon_ms = dedup_seconds * 1000
        self.bucket_ms = bucket_ms_for(self.horizon_ms)
        #: bucket end -> [ids put, ids cleaned]; loaded on first use (bounded by buckets)
        self._buckets: dict[int, list[int]] | None = None
        #: the watermark from which the oldest bucket is behind the horizon (clean-up due)
        self.next_expiry: float = float("inf")
        if self.horizon_ms:
            self._load()

    def too_old(self, ts: int, watermark: int | None) -> bool:
        """Behind the horizon: can no longer be checked for duplicates."""
        return bool(self.horizon_ms) and watermark is not None and ts < watermark - self.horizon_ms

    def seen(self, event_id: bytes, watermark: int | None) -> bool:
        raw = self._store.get(self.ids, event_id)
        if raw is None:
            return False
        if not raw or not self.horizon_ms or watermark is None:
            return True  # kept forever, or no horizon yet
        return _dec(raw) > watermark - self.horizon_ms

    def remember(self, event_id: bytes, ts: int) -> None:
        store = self._store
        if not self.horizon_ms:
            store.put(self.ids, event_id, b"")
            return
        end = (ts // self.bucket_ms + 1) * self.bucket_ms
        buckets = self._buckets
        assert buckets is not None
        row = buckets.get(end)
        if row is None:
            row = buckets[end] = [0, 0]
            self.next_expiry = min(self.next_expiry, end + self.horizon_ms)
        end_key = _enc(end)
        store.put(self._bucket_space(end), _enc(row[0]), event_id)
        row[0] += 1
        store.put(self.list_space, end_key, _enc(row[0]) + _enc(row[1]))
        store.put(self.ids, event_id, end_key)

    def expire(self, watermark: int, budget: int) -> int:
        """Clean up at most ``budget`` ids of buckets behind the horizon, oldest first;
        returns the ids looked at. Answers do not depend on it (see the module doc)."""
        buckets = self._buckets
        if not buckets or watermark < self.next_expiry:
            return 0
        store = self._store
        limit = watermark - self.horizon_ms
        done = 0
        for end in sorted(buckets):
            if end > limit or done >= budget:
                break
            row = buckets[end]
            space, end_key = self._bucket_space(end), _enc(end)
            count, cursor = row
            while cursor < count and done < budget:
                seq = _enc(cursor)
                event_id = store.get(space, seq)
                if event_id is not None:
                    store.delete(space, seq)
                    if store.get(self.ids, event_id) == end_key:
                        store.delete(self.ids, event_id)
                cursor += 1
                done += 1
            row[1] = cursor
            if cursor >= count:
                store.delete(self.list_space, end_key)
                del buckets[end]
            else:
                store.put(self.list_space, end_key, _enc(count) + _enc(cursor))
        self.next_expiry = min(buckets, default=float("inf")) + self.horizon_ms
        return done

    def buckets(self) -> dict[int, tuple[int, int]]:
        """Live buckets: end -> (ids put, ids cleaned), for tests and benches."""
        return {end: (row[0], row[1]) for end, row in sorted((self._buckets or {}).items())}

    def _bucket_space(self, end: int) -> bytes:
        return b"X\x00" + self.board + b"\x00" + str(end).encode()

    def _load(self) -> None:
        self._buckets = {
            _dec(key): [_dec(value[:8]), _dec(value[8:])]
            for key, value in self._store.scan(self.list_space)
        }
        self.next_expiry = min(self._buckets, default=float("inf")) + self.horizon_ms
