"""docs/settings.md is generated from the Settings class and fails the build when it drifts."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.apps.settings_doc import DOC_PATH, drifted, main, render
from streams.runtime.settings import Settings, env_var


def test_docs_settings_md_matches_the_settings_class() -> None:
    assert not drifted(DOC_PATH), (
        f"{DOC_PATH} is out of date with streams/runtime/settings.py: run `make docs` and commit it"
    )


def test_every_setting_has_a_description_and_a_row() -> None:
    page = render(Settings)
    undocumented = [name for name, f in Settings.model_fields.items() if not f.description]
    assert undocumented == [], f"Settings fields without a description: {undocumented}"
    for name in Settings.model_fields:
        assert f"| `{env_var(name)}` |" in page


class _Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class _Sample(BaseSettings):
    """Every kind of field the renderer must survive, with the row it must give."""

    model_config = SettingsConfigDict(env_prefix="SAMPLE_")

    name: str = Field("x", min_length=1, description="A name.")
    port: int = Field(80, ge=0, le=65535, description="A port.")
    ratio: float = Field(0.5, gt=0, description="A ratio.")
    flag: bool = Field(False, description="A flag.")
    path: Path = Field(Path("./var/data"), description="A folder.")
    maybe_path: Path | None = Field(None, description="A file, optional.")
    mode: Literal["fast", "safe"] = Field("safe", description="The mode.")
    color: _Color = Field(_Color.RED, description="A color.")
    password: SecretStr = Field(SecretStr(""), description="A password.")
    password_file: Path | None = Field(None, description="A file holding the password.")
    hosts: list[str] = Field(default_factory=lambda: ["a:1", "b:2"], description="Hosts.")
    token: SecretStr | None = Field(None, description="A token.")
    aliased: int = Field(
        3, validation_alias=AliasChoices("OTHER_NAME", "SAMPLE_ALIASED"), description="Aliased."
    )
    required: str = Field(description="Must be set.")
    piped: str = Field("a|b", description="Routing key <board>.<window>, `a|b` or `<raw>`.")


ROWS: list[tuple[str, str]] = [
    ("name", "| `SAMPLE_NAME` | string, length ≥ 1 | `x` | A name. |"),
    ("port", "| `SAMPLE_PORT` | integer, 0..65535 | `80` | A port. |"),
    ("ratio", "| `SAMPLE_RATIO` | number, > 0 | `0.5` | A ratio. |"),
    ("flag", "| `SAMPLE_FLAG` | boolean | `false` | A flag. |"),
    ("path", "| `SAMPLE_PATH` | path | `./var/data` | A folder. |"),
    ("maybe_path", "| `SAMPLE_MAYBE_PATH` | path, optional | unset | A file, optional. |"),
    ("mode", "| `SAMPLE_MODE` | one of `fast`, `safe` | `safe` | The mode. |"),
    ("color", "| `SAMPLE_COLOR` | one of `red`, `blue` | `red` | A color. |"),
    ("password", '| `SAMPLE_PASSWORD` | secret string | `""` (empty) | A password. |'),
    (
        "password_file",
        "| `SAMPLE_PASSWORD_FILE` | path, optional | unset | A file holding the password. |",
    ),
    ("hosts", "| `SAMPLE_HOSTS` | list of string (JSON array) | `a:1,b:2` | Hosts. |"),
    ("token", "| `SAMPLE_TOKEN` | secret string, optional | unset | A token. |"),
    ("aliased", "| `OTHER_NAME`, `SAMPLE_ALIASED` | integer | `3` | Aliased. |"),
    ("required", "| `SAMPLE_REQUIRED` | string | required | Must be set. |"),
    (
        "piped",
        "| `SAMPLE_PIPED` | string | `a\\|b` | Routing key &lt;board>.&lt;window>, `a\\|b` or "
        "`<raw>`. |",
    ),
]


@pytest.mark.parametrize(("field", "row"), ROWS, ids=[field for field, _ in ROWS])
def test_each_kind_of_field_renders_its_row(field: str, row: str) -> None:
    lines = render(_Sample).splitlines()
    assert row in lines, "\n".join(line for line in lines if field.upper() in line)


def test_rows_follow_the_declaration_order() -> None:
    rows = [line for line in render(_Sample).splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [
        "SAMPLE_" + name.upper() if name != "aliased" else "OTHER_NAME"
        for name in _Sample.model_fields
    ]


def test_a_secret_default_is_shown_as_written_in_code_not_masked() -> None:
    class Secretive(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="S_")
        url: SecretStr = Field(SecretStr("amqp://guest:guest@localhost:5672/"), description="u")

    assert "`amqp://guest:guest@localhost:5672/`" in render(Secretive)


@pytest.mark.parametrize(
    ("edit", "stale"),
    [(lambda text: text, False), (lambda text: text.replace("6066", "6067"), True)],
    ids=["unchanged", "edited"],
)
def test_check_fails_on_a_page_that_differs(tmp_path: Path, edit: Any, stale: bool) -> None:
    page = tmp_path / "settings.md"
    page.write_text(edit(render(Settings)), encoding="utf-8")
    assert drifted(page) is stale
    assert main(["--check", "--out", str(page)]) == (1 if stale else 0)


def test_check_fails_on_a_missing_page_and_writing_fixes_it(tmp_path: Path) -> None:
    page = tmp_path / "docs" / "settings.md"
    assert main(["--check", "--out", str(page)]) == 1
    assert main(["--out", str(page)]) == 0
    assert main(["--check", "--out", str(page)]) == 0
