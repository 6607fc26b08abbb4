"""The first K entries of one window's rank index, and the rank changes one move causes.

Only the K best index keys are held in RAM (bounded by K, not by users); anything beyond
them stays in the store. When a member falls out of the top-K the next-best user is found
with one seek in the store's ordered index, which is what keeps the top-K exact when scores
get worse (negative ``sum`` scores, ``last``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from itertools import islice

from .codec import index_score, index_user
from .storage import Store

#: (user, old_rank, new_rank, score) with 1-based ranks, None meaning outside the top-K
Move = tuple[str, int | None, int | None, int]


class TopK:
    __slots__ = ("_descending", "_k", "keys")

    def __init__(self, keys: list[bytes], k: int, descending: bool) -> None:
        self.keys = keys
        self._k = k
        self._descending = descending

    @classmethod
    def load(cls, store: Store, space: bytes, k: int, descending: bool) -> TopK:
        keys = [key for key, _ in islice(store.scan(space), k)]
        return cls(keys, k, descending)

    def standings(self) -> list[tuple[int, str, int]]:
        return [
            (rank, index_user(key), index_score(key, self._descending))
            for rank, key in enumerate(self.keys, 1)
        ]

    def move(
        self, old: bytes | None, new: bytes, seek_after: Callable[[bytes], bytes | None]
    ) -> list[Move]:
        """Replace ``old`` by ``new`` (the store already holds the new index) and diff.

        ``seek_after(key)`` returns the store's first index key after ``key``; it is only
        called when a member left and the K-th place must be refilled from outside.
        """
        keys, k = self.keys, self._k
        full = len(keys) == k
        old_pos: int | None = None
        if old is not None:
            at = bisect_left(keys, old)
            if at < len(keys) and keys[at] == old:
                old_pos = at
        new_pos: int | None = None
        entered: bytes | None = None
        dropped: bytes | None = None
        if old_pos is not None:
            boundary = keys[-1]
            del keys[old_pos]
            if not full or new < boundary:
                new_pos = bisect_left(keys, new)
                keys.insert(new_pos, new)
            else:
                filler = seek_after(boundary)
                assert filler is not None, "the store must hold the new index key"
                keys.append(filler)
                if filler == new:
                    new_pos = k - 1
                else:
                    entered = filler
        elif not full or new < keys[-1]:
            new_pos = bisect_left(keys, new)
            keys.insert(new_pos, new)
            if len(keys) > k:
                dropped = keys.pop()
        return self._diff(old, new, old_pos, new_pos, entered, dropped)

    def _diff(
        self,
        old: bytes | None,
        new: bytes,
        old_pos: int | None,
        new_pos: int | None,
        entered: bytes | None,
        dropped: bytes | None,
    ) -> list[Move]:
        if old_pos is None and new_pos is None:
            return []
        desc = self._descending
        score = index_score(new, desc)
        moves: list[Move] = []
        old_score = None if old is None else index_score(old, desc)
        if old_pos != new_pos or old_score != score:
            moves.append(
                (
                    index_user(new),
                    None if old_pos is None else old_pos + 1,
                    None if new_pos is None else new_pos + 1,
                    score,
                )
            )
        keys = self.keys
        # Everyone strictly between the old and the new place moved by one.
        if old_pos is not None and new_pos is not None:
            if new_pos < old_pos:
                shifted, delta = range(new_pos + 1, old_pos + 1), -1
            else:
                shifted, delta = range(old_pos, new_pos), +1
        elif new_pos is not None:  # entered from outside: everyone below moved down
            shifted, delta = range(new_pos + 1, len(keys)), -1
        else:  # left: everyone below moved up, except a refill that came from outside
            assert old_pos is not None
            end = len(keys) - 1 if entered is not None else len(keys)
            shifted, delta = range(old_pos, end), +1
        for pos in shifted:
            key = keys[pos]
            moves.append((index_user(key), pos + 1 + delta, pos + 1, index_score(key, desc)))
        if entered is not None:
            moves.append((index_user(entered), None, len(keys), index_score(entered, desc)))
        if dropped is not None:
            moves.append((index_user(dropped), len(keys), None, index_score(dropped, desc)))
        return moves
