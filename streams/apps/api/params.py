"""Request parameters of the query API as pydantic models: parsing, the 400 answers and
the parameter part of ``/openapi.json`` all come from the same classes.

Rules, so that no value reaches the engine unchecked:

- Integers are ASCII decimal (``-?[0-9]{1,18}``): ``²``, ``1.0``, ``1_000``, ``0x10`` and
  100-digit numbers are a ``400 bad_parameter``, not whatever ``int()`` or pydantic's lax
  mode would make of them.
- ``period`` is a real date ``YYYY-MM-DD``; an empty ``period=`` is a 400 (leave it out
  to mean the current window).
- A parameter the operation does not take is a 400 (a typo such as ``limt`` would
  otherwise be ignored silently), and so is a scalar given twice.
- The several-users query takes ``ids=a,b`` (comma list) and/or repeated ``id=a``
  (one user each, so a user id with a comma in it can be asked for).

Every failure is a :class:`~streams.engine.query.QueryError` naming the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from schemas.rules import BOARD_PATTERN, is_board_name
from schemas.score_event import MAX_USER_CHARS
from streams.engine.query import MAX_AROUND, MAX_IDS, MAX_LIMIT, QueryError
from streams.engine.windows import KINDS

MAX_OFFSET = 1_000_000_000
DEFAULT_LIMIT = 100

_DECIMAL = re.compile(r"-?[0-9]{1,18}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: One user id: 1..128 characters, no control characters (contract section 1).
_USER_CHAR = r"[^\x00-\x1f\x7f]"
_ID_CHAR = r"[^\x00-\x1f\x7f,]"
USER_JSON_PATTERN = f"^{_USER_CHAR}{{1,{MAX_USER_CHARS}}}$"
#: ``ids``: 1..MAX_IDS user ids without commas, separated by commas.
IDS_JSON_PATTERN = (
    f"^{_ID_CHAR}{{1,{MAX_USER_CHARS}}}(,{_ID_CHAR}{{1,{MAX_USER_CHARS}}}){{0,{MAX_IDS - 1}}}$"
)
_PERIOD_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _decimal(value: Any) -> Any:
    if isinstance(value, str):
        if _DECIMAL.fullmatch(value) is None:
            raise ValueError("must be a decimal integer")
        return int(value)
    return value


def _period(value: str) -> str:
    if _DATE.fullmatch(value) is None:
        raise ValueError("must be a date YYYY-MM-DD (leave it out for the current window)")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a real date YYYY-MM-DD") from None
    return value


def _user(value: str) -> str:
    if not 1 <= len(value) <= MAX_USER_CHARS or _CONTROL.search(value):
        raise ValueError(f"a user id is 1..{MAX_USER_CHARS} characters without control characters")
    return value


def _ids(value: str) -> str:
    users = value.split(",")
    if len(users) > MAX_IDS:
        raise ValueError(f"at most {MAX_IDS} user ids, got {len(users)}")
    for n, user in enumerate(users, 1):
        if user == "":
            raise ValueError(f"user id {n} is empty (ids=a,b,c)")
        _user(user)
    return value


def _board(value: str) -> str:
    if not is_board_name(value):
        raise ValueError(
            "a board name is 1..128 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit"
        )
    return value


Period = Annotated[
    str,
    AfterValidator(_period),
    WithJsonSchema({"type": "string", "format": "date", "pattern": _PERIOD_PATTERN}),
]
UserId = Annotated[
    str, AfterValidator(_user), WithJsonSchema({"type": "string", "pattern": USER_JSON_PATTERN})
]
BoardName = Annotated[
    str, AfterValidator(_board), WithJsonSchema({"type": "string", "pattern": BOARD_PATTERN})
]
UserIds = Annotated[
    str, AfterValidator(_ids), WithJsonSchema({"type": "string", "pattern": IDS_JSON_PATTERN})
]


Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT), BeforeValidator(_decimal)]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET), BeforeValidator(_decimal)]
Around = Annotated[int, Field(ge=0, le=MAX_AROUND), BeforeValidator(_decimal)]


def _period_field() -> Any:
    return Field(
        default=None,
        description="local date of the window's first day; left out: the current window (the "
        "one that contains the wall clock in the board's time zone)",
        examples=["2026-11-27"],
    )


class Params(BaseModel):
    """Query parameters of one operation; every field optional, unknown ones refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: Fields that may be given several times (a list each); all others at most once.
    repeatable: ClassVar[frozenset[str]] = frozenset()


class NoParams(Params):
    """Operations without query parameters."""


class BoardsParams(Params):
    scope: Literal["local"] | None = Field(
        default=None,
        description="local: only the boards of this worker's partitions (what workers ask "
        "each other); left out: every board of the group",
        examples=["local"],
    )


class PageParams(Params):
    period: Period | None = _period_field()
    limit: Limit = Field(
        default=DEFAULT_LIMIT, description="at most this many entries", examples=[10]
    )
    offset: Offset = Field(default=0, description="entries start at rank offset + 1", examples=[0])


class UserParams(Params):
    period: Period | None = _period_field()
    around: Around = Field(
        default=0, description="this many neighbours on each side of the user", examples=[2]
    )


class UsersParams(Params):
    repeatable = frozenset({"id"})

    period: Period | None = _period_field()
    ids: UserIds | None = Field(
        default=None,
        description=f"comma-separated user ids, 1 to {MAX_IDS} with id",
        examples=["ann,bob"],
    )
    id: list[UserId] = Field(
        default_factory=list,
        max_length=MAX_IDS,
        description="one user id, repeatable (for ids with a comma); after those of ids",
        examples=[["c,d"]],
    )

    @model_validator(mode="after")
    def _some_users(self) -> UsersParams:
        if not self.users:
            raise ValueError("ids: give at least one user id, as ids=a,b or id=a&id=b")
        if len(self.users) > MAX_IDS:
            raise ValueError(f"ids: at most {MAX_IDS} user ids in all, got {len(self.users)}")
        return self

    @property
    def users(self) -> list[str]:
        """The requested users in request order: those of ``ids``, then each ``id``."""
        return [*(self.ids.split(",") if self.ids is not None else ()), *self.id]


class BoardPath(BaseModel):
    """Path parameters: ``{board}``."""

    model_config = ConfigDict(frozen=True)
    board: BoardName = Field(description="the board", examples=["arena"])


class WindowPath(BoardPath):
    """``{board}/{window}``. An unknown window kind is ``404 unknown_window`` (checked with
    the board's configuration), so the kind is a plain string here."""

    window: Annotated[str, WithJsonSchema({"type": "string", "enum": list(KINDS)})] = Field(
        description="daily, weekly or all", examples=["daily"]
    )


class UserPath(WindowPath):
    user: UserId = Field(description="the user id", examples=["ann"])


P = TypeVar("P", bound=BaseModel)
Q = TypeVar("Q", bound=Params)


def parse_path(model: type[P], match_info: Mapping[str, str]) -> P:
    """The path parameters of a matched route, or a ``400 bad_parameter``."""
    return _validate(model, dict(match_info))


def parse_query(model: type[Q], query: Any) -> Q:
    """``query`` is the request's multidict (``getall`` per key)."""
    data: dict[str, Any] = {}
    for name in dict.fromkeys(query.keys()):
        values = query.getall(name)
        if name not in model.model_fields:
            raise QueryError(400, "bad_parameter", f"{name}: unknown parameter; {_takes(model)}")
        if name in model.repeatable:
            data[name] = values
        elif len(values) > 1:
            raise QueryError(
                400, "bad_parameter", f"{name}: given {len(values)} times; give it once"
            )
        else:
            data[name] = values[0]
    return _validate(model, data)


def _takes(model: type[Params]) -> str:
    names = list(model.model_fields)
    return f"this operation takes {', '.join(names)}" if names else "this operation takes none"


def _validate(model: type[P], data: dict[str, Any]) -> P:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise QueryError(400, "bad_parameter", describe(exc.errors(), data)) from None


def describe(errors: Iterable[Any], data: Mapping[str, Any]) -> str:
    """One line about the first problem: the parameter, what is wrong, the value given."""
    first = next(iter(errors))
    loc = [str(part) for part in first.get("loc", ())]
    name = loc[0] if loc else "parameters"
    message = str(first.get("msg", "invalid"))
    for prefix in ("Value error, ", "Input "):
        message = message.removeprefix(prefix)
    if name not in data:
        return f"{name}: {message}" if loc else message
    shown = repr(data[name])
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{name}: {message}, got {shown}"
