"""How one event folds into a user's standing in one window (contract section 2).

A standing is (score, reached, last_event_id). ``reached`` is the event time at which the
user reached that score, the first tie-break, chosen per aggregate so that the result
depends only on the set of applied events, never on their arrival order.
"""

from __future__ import annotations

from typing import NamedTuple


class Standing(NamedTuple):
    score: int
    reached: int
    last_event_id: str = ""


def fold(
    aggregate: str, old: Standing | None, score: int, ts: int, event_id: str
) -> Standing | None:
    """The standing after the event, or None when the event changes nothing."""
    if old is None:
        return Standing(score, ts, event_id if aggregate == "last" else "")
    if aggregate == "sum":
        new = Standing(old.score + score, max(old.reached, ts))
        return None if new == old else new
    if aggregate == "max":
        return _extreme(old, score, ts, score > old.score)
    if aggregate == "min":
        return _extreme(old, score, ts, score < old.score)
    if (ts, event_id) > (old.reached, old.last_event_id):  # last
        return Standing(score, ts, event_id)
    return None


def _extreme(old: Standing, score: int, ts: int, better: bool) -> Standing | None:
    if better:
        return Standing(score, ts)
    if score == old.score and ts < old.reached:
        return Standing(score, ts)
    return None
