"""The contract's naming rules, standard library only, so the engine can import them too.

One home for the board-name rule: the input model (``schemas.score_event``), the boards
file (``streams.engine.config``) and the query API's parameters all use it.
"""

from __future__ import annotations

import re
from typing import Final

_BOARD_NAME: Final = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"

BOARD_PATTERN: Final = f"^{_BOARD_NAME}$"
"""Board names, as JSON Schema and pydantic spell them (``$`` is the end of the string in
the rust-regex engine; in Python use :func:`is_board_name`, whose ``$`` would also accept a
trailing newline)."""

_BOARD_RE: Final = re.compile(_BOARD_NAME)


def is_board_name(name: str) -> bool:
    """1 to 128 characters of ``A-Za-z0-9._-``, not starting with ``.``, ``_`` or ``-``:
    names that are safe as Kafka keys, URL path segments and file names."""
    return _BOARD_RE.fullmatch(name) is not None
