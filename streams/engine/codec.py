"""Byte layouts of the engine's keys and values.

Index keys sort bytewise in rank order - score (flipped for ``desc``), then the time the
score was reached, then the user's UTF-8 bytes (UTF-8 preserves code-point order) - so a
RocksDB iterator walks a window from rank 1 down and the top-K is a prefix scan.

A user's state value starts with the same 24-byte rank head (followed by the last event id
for ``last``), so the user's current index key is ``head + user``: no second encoding.
"""

from __future__ import annotations

from streams.engine.aggregates import Standing

_SCORE_BIAS = 1 << 127  # sums of 2^53-bounded scores stay far inside 128 bits
_TS_BIAS = 1 << 63
_SCORE_BYTES = 16
HEAD = _SCORE_BYTES + 8
SEP = b"\x00"


def encode_state(standing: Standing, descending: bool) -> bytes:
    """Rank head (score, reached) plus the last event id: the user's value in a window."""
    score = _SCORE_BIAS - standing.score if descending else _SCORE_BIAS + standing.score
    return (
        score.to_bytes(_SCORE_BYTES, "big")
        + (standing.reached + _TS_BIAS).to_bytes(8, "big")
        + standing.last_event_id.encode()
    )


def decode_state(raw: bytes, descending: bool) -> Standing:
    return Standing(
        index_score(raw, descending),
        int.from_bytes(raw[_SCORE_BYTES:HEAD], "big") - _TS_BIAS,
        raw[HEAD:].decode(),
    )


def index_key(state: bytes, user: bytes) -> bytes:
    return state[:HEAD] + user


def index_user(key: bytes) -> str:
    return key[HEAD:].decode()


def index_score(key: bytes, descending: bool) -> int:
    biased = int.from_bytes(key[:_SCORE_BYTES], "big")
    return _SCORE_BIAS - biased if descending else biased - _SCORE_BIAS


def window_space(tag: bytes, board: str, kind: str, period: str | None) -> bytes:
    """Space name of one window's user states (tag b"U") or rank index (tag b"I")."""
    return SEP.join((tag, board.encode(), kind.encode(), (period or "").encode()))


def board_space(tag: bytes, board: str) -> bytes:
    """Space name of a board's dedup set (b"D") or metadata (b"M")."""
    return tag + SEP + board.encode()
