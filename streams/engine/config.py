"""Board configuration (contract section 2), loaded from TOML with errors that name the key.

A typo in a board file should fail at start-up with the dotted key and the allowed values,
not silently fall back to a default, so unknown keys are errors too.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from schemas.rules import BOARD_PATTERN, is_board_name
from streams.engine.windows import KINDS, WEEKDAYS, Calendar

AGGREGATES: tuple[str, ...] = ("sum", "max", "min", "last")
ORDERS: tuple[str, ...] = ("desc", "asc")
MAX_TOP = 10_000


class ConfigError(ValueError):
    """The boards file is unreadable or holds a value outside the contract."""


@dataclass(frozen=True, slots=True)
class BoardConfig:
    aggregate: str = "sum"
    order: str = "desc"
    windows: tuple[str, ...] = KINDS
    top: int = 100
    timezone: str = "UTC"
    week_start: int = 0
    grace_seconds: int = 300
    retain: int = 8
    #: Dedup horizon (contract section 2): event ids are remembered this long behind the
    #: watermark; older events are ``too_old``. 0: ids are kept forever.
    dedup_seconds: int = 691_200
    #: Idle close: a caught-up board without events for this long (wall clock) has its
    #: watermark advanced to the wall clock. 0: off.
    idle_close_seconds: int = 60


@dataclass(frozen=True, slots=True)
class BoardsConfig:
    max_future_seconds: int = 600
    defaults: BoardConfig = field(default_factory=BoardConfig)
    boards: dict[str, BoardConfig] = field(default_factory=dict)

    def for_board(self, name: str) -> BoardConfig:
        return self.boards.get(name, self.defaults)

    def idle_close_possible(self) -> bool:
        """Whether any board can be closed by idle close (all have it off: no checks)."""
        configs = [self.defaults, *self.boards.values()]
        return any(config.idle_close_seconds for config in configs)


BOARD_KEYS: tuple[str, ...] = (
    "aggregate",
    "order",
    "windows",
    "top",
    "timezone",
    "week_start",
    "grace_seconds",
    "retain",
    "dedup_seconds",
    "idle_close_seconds",
)


def load_boards(path: str | Path | None) -> BoardsConfig:
    """Read a boards TOML file; ``None`` means the built-in defaults of the contract."""
    if path is None:
        return BoardsConfig()
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such boards file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read boards file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_boards(data)


def parse_boards(data: dict[str, Any]) -> BoardsConfig:
    allowed = ("max_future_seconds", "defaults", "boards")
    _reject_unknown(data, allowed, prefix="")
    max_future = data.get("max_future_seconds", 600)
    if not _is_int(max_future) or max_future < 0:
        raise ConfigError("max_future_seconds: must be an integer >= 0")
    defaults = _parse_board(_table(data, "defaults", "defaults"), BoardConfig(), "defaults")
    boards: dict[str, BoardConfig] = {}
    for name, table in _table(data, "boards", "boards").items():
        where = f"boards.{name}"
        if not is_board_name(name):
            raise ConfigError(f"{where}: board names must match {BOARD_PATTERN}")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: must be a table such as [boards.{name}]")
        boards[name] = _parse_board(table, defaults, where)
    return BoardsConfig(max_future_seconds=max_future, defaults=defaults, boards=boards)


def _parse_board(table: dict[str, Any], base: BoardConfig, where: str) -> BoardConfig:
    _reject_unknown(table, BOARD_KEYS, prefix=f"{where}.")
    changes: dict[str, Any] = {}
    for key, value in table.items():
        changes[key] = _check(key, value, f"{where}.{key}")
    return replace(base, **changes)


def _check(key: str, value: Any, where: str) -> Any:
    if key == "aggregate":
        return _choice(value, AGGREGATES, where)
    if key == "order":
        return _choice(value, ORDERS, where)
    if key == "week_start":
        return WEEKDAYS.index(_choice(value, WEEKDAYS, where))
    if key == "windows":
        if (
            not isinstance(value, list)
            or not value
            or any(v not in KINDS for v in value)
            or len(set(value)) != len(value)
        ):
            raise ConfigError(
                f"{where}: must be a non-empty list of distinct values from {', '.join(KINDS)}"
            )
        return tuple(kind for kind in KINDS if kind in value)
    if key == "top":
        if not _is_int(value) or not 1 <= value <= MAX_TOP:
            raise ConfigError(f"{where}: must be an integer from 1 to {MAX_TOP}")
        return value
    if key == "timezone":
        if not isinstance(value, str):
            raise ConfigError(f"{where}: must be an IANA time zone name such as Europe/Berlin")
        try:
            Calendar(value, 0)  # the engine's own zone database decides
        except ValueError:
            raise ConfigError(
                f"{where}: unknown IANA time zone {value!r} (e.g. UTC, Europe/Berlin)"
            ) from None
        return value
    # grace_seconds, retain, dedup_seconds, idle_close_seconds
    if not _is_int(value) or value < 0:
        raise ConfigError(f"{where}: must be an integer >= 0")
    return value


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(f"{where}: must be one of {', '.join(allowed)}")
    return value


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a table")
    return value


def _reject_unknown(table: dict[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{prefix}{key}: unknown key; allowed keys are {', '.join(allowed)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
