"""The floor plan holds: ``streams/`` is layered and every import points downward.

    apps/ (worker, intake, replay, demo, watch, show, api/, bridge/)
      -> runtime/ (stages, units, consumer, state, restore, topics, settings)
        -> edge/ (validation, wire formats)
          -> engine/ (pure core) -> schemas.timefmt, schemas.rules (standard library only)

``schemas/`` (the wire models) never imports ``streams``. Every import is checked, also
those inside functions and under ``TYPE_CHECKING``: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Layer of each package; a module may import its own layer and those below it.
LAYERS = {"streams.engine": 0, "streams.edge": 1, "streams.runtime": 2, "streams.apps": 3}
#: Top-level modules of ``streams`` that are no layer: the package, ``python -m streams``
#: and ``python -m streams.show`` (commands docs/contract.md names).
ENTRY_POINTS = {"streams", "streams.__main__", "streams.show"}
#: What the engine and the pure schema modules may import besides the standard library.
PURE_SCHEMAS = {"schemas.timefmt", "schemas.rules"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(source: str, module: str, is_package: bool) -> set[str]:
    """Absolute names of the modules ``source`` imports (relative ones resolved)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                prefix = package[: len(package) - (node.level - 1)]
                base = ".".join([*prefix, base] if base else prefix)
            # ``from streams.apps import demo`` may name a module (streams.apps.demo) or
            # an attribute; either way its prefix says which layer it comes from.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def layer_of(module: str) -> int | None:
    for package, layer in LAYERS.items():
        if module == package or module.startswith(package + "."):
            return layer
    return None


def is_pure_schema(module: str) -> bool:
    return any(module == pure or module.startswith(pure + ".") for pure in PURE_SCHEMAS)


def is_stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names or module == "__future__"


def violations(module: str, imported: set[str]) -> list[str]:
    """Why ``module`` may not import some of ``imported`` (empty when all are allowed)."""
    bad: list[str] = []
    own = layer_of(module)
    for name in sorted(imported):
        if module.startswith("schemas") and name.split(".")[0] == "streams":
            bad.append(f"{module} imports {name}: schemas never imports streams")
        elif module in PURE_SCHEMAS and not (is_stdlib(name) or is_pure_schema(name)):
            bad.append(f"{module} imports {name}: it must stay standard library only")
        elif own == 0 and not (is_stdlib(name) or layer_of(name) == 0 or is_pure_schema(name)):
            bad.append(f"{module} imports {name}: the engine imports no framework nor layer")
        elif own is not None and (target := layer_of(name)) is not None and target > own:
            bad.append(f"{module} imports {name}: an upward import")
        elif own is not None and name.startswith("streams.") and layer_of(name) is None:
            bad.append(f"{module} imports {name}: a module outside the layers")
    return bad


def tree() -> list[Path]:
    return sorted([*(ROOT / "streams").rglob("*.py"), *(ROOT / "schemas").rglob("*.py")])


def test_every_module_of_streams_is_in_a_layer() -> None:
    loose = [
        module_name(path)
        for path in (ROOT / "streams").rglob("*.py")
        if layer_of(module_name(path)) is None and module_name(path) not in ENTRY_POINTS
    ]
    assert loose == []


def test_every_import_points_downward() -> None:
    bad: list[str] = []
    for path in tree():
        module = module_name(path)
        found = imports(path.read_text(), module, path.name == "__init__.py")
        bad += violations(module, found)
    assert bad == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("streams.engine.core", "import faust", "the engine imports no framework"),
        ("streams.engine.core", "from streams.edge import wire", "the engine imports no"),
        ("streams.engine.core", "from schemas.score_event import X", "the engine imports no"),
        ("streams.edge.wire", "from streams.runtime.publish import Unit", "an upward import"),
        ("streams.runtime.app", "from streams.apps.api import register", "an upward import"),
        ("streams.runtime.app", "def f():\n    from ..apps import api", "an upward import"),
        ("streams.runtime.app", "from streams.flat import x", "outside the layers"),
        ("schemas.score_event", "from streams.engine.events import E", "never imports"),
        ("schemas.timefmt", "import pydantic", "standard library only"),
    ],
)
def test_the_checker_finds_each_kind_of_violation(module: str, source: str, expected: str) -> None:
    found = violations(module, imports(source, module, is_package=False))
    assert len(found) == 1 and expected in found[0]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("streams.engine.core", "import re\nfrom schemas.timefmt import format_ms"),
        ("streams.edge.wire", "from streams.engine.events import ScoreEvent\nimport pydantic"),
        ("streams.runtime.app", "import faust\nfrom streams.edge import wire"),
        (
            "streams.apps.worker",
            "from streams.runtime.app import create\nfrom streams.apps import demo",
        ),
        ("schemas.push", "from pydantic import BaseModel\nfrom schemas.timefmt import f"),
    ],
)
def test_the_checker_allows_downward_imports(module: str, source: str) -> None:
    assert violations(module, imports(source, module, is_package=False)) == []
