"""The first K entries of one window's rank index, and the rank changes one move causes.

Only the K best index entries are held in RAM (bounded by K, not by users); anything beyond
them stays in the store. When a member falls out of the top-K the next-best user is found
with one seek in the store's ordered index, which is what keeps the top-K exact when scores
get worse (negative ``sum`` scores, ``last``).
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import islice

from streams.engine.codec import index_score, index_user
from streams.engine.events import RankChange, WindowRef
from streams.engine.storage import Store

#: (index key, user, score): decoded once when the entry enters the top-K, because a move
#: reports every member it shifts and decoding them each time dominated the profile
Entry = tuple[bytes, str, int]


class TopK:
    __slots__ = ("_descending", "_k", "_space", "_store", "entries")

    def __init__(self, store: Store, space: bytes, k: int, descending: bool) -> None:
        """Read the first K entries of the index ``space`` of ``store``."""
        self._store = store
        self._space = space
        self._k = k
        self._descending = descending
        self.entries: list[Entry] = [self._entry(key) for key, _ in islice(store.scan(space), k)]

    def _seek_after(self, key: bytes) -> bytes | None:
        for found, _ in self._store.scan(self._space, key):
            return found
        return None

    def _entry(self, key: bytes) -> Entry:
        return (key, index_user(key), index_score(key, self._descending))

    def standings(self) -> list[tuple[int, str, int]]:
        return [(rank, user, score) for rank, (_, user, score) in enumerate(self.entries, 1)]

    def move(
        self,
        old: bytes | None,
        new: bytes,
        cause: tuple[str, WindowRef, str],
        out: list[RankChange],
    ) -> None:
        """Replace ``old`` by ``new`` (the store already holds the new index) and append a
        change to ``out`` for every member whose rank or score changed.

        The store is only read when a member left and the K-th place must be refilled
        from outside (one seek past the old K-th key). ``cause`` is (board, window,
        event_id), the part every change of this move shares.
        """
        entries, k = self.entries, self._k
        full = len(entries) == k
        old_pos: int | None = None
        if old is not None:
            at = bisect_left(entries, (old,))
            if at < len(entries) and entries[at][0] == old:
                old_pos = at
        new_pos: int | None = None
        entered: Entry | None = None
        dropped: Entry | None = None
        if old_pos is not None:
            boundary = entries[-1][0]
            del entries[old_pos]
            if not full or new < boundary:
                new_pos = bisect_left(entries, (new,))
                entries.insert(new_pos, self._entry(new))
            else:
                filler = self._seek_after(boundary)
                assert filler is not None, "the store must hold the new index key"
                entries.append(self._entry(filler))
                if filler == new:
                    new_pos = k - 1
                else:
                    entered = entries[-1]
        elif not full or new < entries[-1][0]:
            new_pos = bisect_left(entries, (new,))
            entries.insert(new_pos, self._entry(new))
            if len(entries) > k:
                dropped = entries.pop()
        if old_pos is not None or new_pos is not None:
            self._diff(old, new, old_pos, new_pos, entered, dropped, cause, out)

    def _diff(
        self,
        old: bytes | None,
        new: bytes,
        old_pos: int | None,
        new_pos: int | None,
        entered: Entry | None,
        dropped: Entry | None,
        cause: tuple[str, WindowRef, str],
        out: list[RankChange],
    ) -> None:
        desc = self._descending
        score = index_score(new, desc)
        board, window, event_id = cause
        if old_pos != new_pos or old is None or index_score(old, desc) != score:
            old_rank = None if old_pos is None else old_pos + 1
            new_rank = None if new_pos is None else new_pos + 1
            out.append(
                RankChange(board, window, index_user(new), old_rank, new_rank, score, event_id)
            )
        entries = self.entries
        # Everyone strictly between the old and the new place moved by one.
        if old_pos is not None and new_pos is not None:
            if new_pos < old_pos:
                first, stop, delta = new_pos + 1, old_pos + 1, -1
            else:
                first, stop, delta = old_pos, new_pos, +1
        elif new_pos is not None:  # entered from outside: everyone below moved down
            first, stop, delta = new_pos + 1, len(entries), -1
        else:  # left: everyone below moved up, except a refill that came from outside
            assert old_pos is not None
            first, stop, delta = old_pos, len(entries) - (entered is not None), +1
        for pos in range(first, stop):
            _, user, member_score = entries[pos]
            out.append(
                RankChange(board, window, user, pos + 1 + delta, pos + 1, member_score, event_id)
            )
        if entered is not None:
            out.append(
                RankChange(board, window, entered[1], None, len(entries), entered[2], event_id)
            )
        if dropped is not None:
            out.append(
                RankChange(board, window, dropped[1], len(entries), None, dropped[2], event_id)
            )
