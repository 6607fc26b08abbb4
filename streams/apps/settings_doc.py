"""Write (or check) ``docs/settings.md``, the table of every setting, from the settings class.

The table is generated, never edited: the settings class
(:class:`streams.runtime.settings.Settings`) is the one home of each setting's name, type, default
and description, and ``--check`` (``make docs-check``, part of ``make test``) and the unit
drift test fail when the committed page no longer says what the class does, as
``python -m schemas.export --check`` does for the JSON Schemas.

The renderer only reads pydantic's field metadata, so any field type renders: plain types,
``Path``, ``SecretStr``, ``Literal[...]``, ``X | None``, ``Annotated`` constraints, lists,
and fields with an alias instead of the ``RANKSTREAM_`` prefix.

Usage: ``python -m streams.apps.settings_doc [--check] [--out PATH]``
"""

from __future__ import annotations

import argparse
import enum
import sys
import types
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin

from pydantic import AliasChoices, AliasPath, SecretBytes, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from streams.runtime.settings import Settings

__all__ = ["DOC_PATH", "drifted", "env_vars", "main", "render", "type_text"]

DOC_PATH: Final = Path(__file__).resolve().parents[2] / "docs" / "settings.md"

_HEADER: Final = """\
<!-- Generated from streams/runtime/settings.py by `make docs`.
     Do not edit: change the Settings class, then run `make docs`. -->
# Settings

Every rankstream command (`worker`, `intake`, `bridge`, `demo`, `watch`) reads its settings
once, at start-up, from environment variables or from a `.env` file in the current
directory. A real environment variable wins over `.env`; an empty variable counts as unset.
A bad value stops the command at start with a message that names the variable. The
settings the contract names (docs/contract.md, "The stream job") come first; their
defaults do not change within a contract version.

| variable | type | default | description |
| --- | --- | --- | --- |
"""

_SCALARS: Final[dict[type, str]] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    bytes: "bytes",
}


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """Strip ``Annotated`` layers; return the bare type and the metadata they carried."""
    metadata: list[Any] = []
    while get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        metadata.extend(extra)
    return annotation, metadata


def _bounds(metadata: Sequence[Any]) -> str:
    """Numeric and length bounds from pydantic / annotated-types metadata, e.g. ``0..65535``."""
    found: dict[str, Any] = {}
    for item in metadata:
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            value = getattr(item, name, None)
            if value is not None:
                found[name] = value
    parts = []
    low = ("≥", found["ge"]) if "ge" in found else (">", found["gt"]) if "gt" in found else None
    high = ("≤", found["le"]) if "le" in found else ("<", found["lt"]) if "lt" in found else None
    if low and high and low[0] == "≥" and high[0] == "≤":
        parts.append(f"{_number(low[1])}..{_number(high[1])}")
    else:
        parts.extend(f"{bound[0]} {_number(bound[1])}" for bound in (low, high) if bound)
    if "min_length" in found or "max_length" in found:
        low_len, high_len = found.get("min_length", 0), found.get("max_length")
        parts.append(
            f"length {low_len}..{high_len}" if high_len is not None else f"length ≥ {low_len}"
        )
    return ", ".join(parts)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def type_text(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    """A field's type in words: ``integer, 0..65535``, ``path, optional``,
    ``one of `exactly_once`, `at_least_once```, ``secret string``."""
    annotation, extra = _unwrap(annotation)
    metadata = [*metadata, *extra]
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        optional = len(members) < len(get_args(annotation))
        text = " or ".join(type_text(member) for member in members)
        bounds = _bounds(metadata)
        return text + (f", {bounds}" if bounds else "") + (", optional" if optional else "")
    if origin is Literal:
        return "one of " + ", ".join(f"`{_plain(arg)}`" for arg in get_args(annotation))
    if origin in (list, tuple, set, frozenset, Sequence):
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        inner = type_text(args[0]) if args else "value"
        return f"list of {inner} (JSON array)"
    if origin is dict:
        return "mapping (JSON object)"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{_plain(member.value)}`" for member in annotation)
    if annotation is SecretStr:
        text = "secret string"
    elif annotation is SecretBytes:
        text = "secret bytes"
    elif isinstance(annotation, type) and issubclass(annotation, PurePath):
        text = "path"
    elif annotation in _SCALARS:
        text = _SCALARS[annotation]
    else:
        text = getattr(annotation, "__name__", None) or str(annotation)
    bounds = _bounds(metadata)
    return f"{text}, {bounds}" if bounds else text


def _plain(value: Any) -> str:
    """A value as a user would write it in the environment."""
    if isinstance(value, SecretStr | SecretBytes):
        value = value.get_secret_value()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, PurePath):
        text = str(value)
        relative = not value.is_absolute() and not text.startswith((".", "~"))
        return f"./{text}" if relative and text else text
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(_plain(item) for item in value)
    return str(value)


def default_text(field: FieldInfo) -> str:
    """The default as a table cell: ``unset``, ``required``, ``""`` or the value in code."""
    value = field.get_default(call_default_factory=True, validated_data={})
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "unset"
    text = _plain(value)
    return f"`{text}`" if text else '`""` (empty)'


def env_vars(settings_cls: type[BaseSettings], name: str, field: FieldInfo) -> list[str]:
    """The environment variable(s) that set a field: its alias(es) or prefix + name."""
    alias = field.validation_alias or field.alias
    if isinstance(alias, str):
        return [alias.upper()]
    if isinstance(alias, AliasChoices):
        return [choice.upper() for choice in alias.choices if isinstance(choice, str)] or _prefixed(
            settings_cls, name
        )
    if isinstance(alias, AliasPath):
        return [str(alias.path[0]).upper()]
    return _prefixed(settings_cls, name)


def _prefixed(settings_cls: type[BaseSettings], name: str) -> list[str]:
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    return [(prefix + name).upper()]


def _cell(text: str) -> str:
    """One table cell: whitespace collapsed, pipes escaped, and ``<`` outside code spans
    escaped so that ``<board>.<window>`` is not taken for an HTML tag."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    for index in range(0, len(parts), 2):  # even parts lie outside backtick code spans
        parts[index] = parts[index].replace("<", "&lt;")
    return "`".join(parts)


def render(settings_cls: type[BaseSettings] = Settings) -> str:
    """The whole page for ``settings_cls``, one row per field in declaration order."""
    rows = []
    for name, field in settings_cls.model_fields.items():
        variables = ", ".join(f"`{var}`" for var in env_vars(settings_cls, name, field))
        description = field.description or "(no description)"
        cells = (
            variables,
            type_text(field.annotation, field.metadata),
            default_text(field),
            description,
        )
        rows.append("| " + " | ".join(_cell(cell) for cell in cells) + " |\n")
    return _HEADER + "".join(rows)


def drifted(path: Path = DOC_PATH, settings_cls: type[BaseSettings] = Settings) -> bool:
    """True when ``path`` is missing or differs from what the class renders now."""
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return True
    return current != render(settings_cls)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; exit status 1 on ``--check`` drift so CI can gate on it."""
    parser = argparse.ArgumentParser(
        prog="python -m streams.apps.settings_doc",
        description="Write docs/settings.md from the Settings class.",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the page is out of date"
    )
    parser.add_argument("--out", type=Path, default=DOC_PATH, help="page to write or check")
    args = parser.parse_args(argv)
    if args.check:
        if drifted(args.out):
            print(f"out of date: {args.out} (run: make docs)", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
