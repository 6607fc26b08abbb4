"""Board config: defaults, overrides and errors that name the key and the allowed values."""

from __future__ import annotations

import tomllib

import pytest

from streams.engine.config import BoardsConfig, ConfigError, load_boards, parse_boards

CONTRACT_EXAMPLE = """
max_future_seconds = 600

[defaults]
aggregate = "sum"
order = "desc"
windows = ["daily", "weekly", "all"]
top = 100
timezone = "UTC"
week_start = "monday"
grace_seconds = 300
retain = 8
dedup_seconds = 691200
idle_close_seconds = 60

[boards.speedrun]
aggregate = "min"
order = "asc"
"""


def test_contract_example_and_defaults() -> None:
    config = parse_boards(tomllib.loads(CONTRACT_EXAMPLE))
    speedrun = config.for_board("speedrun")
    assert (speedrun.aggregate, speedrun.order, speedrun.top) == ("min", "asc", 100)
    assert config.for_board("anything") == config.defaults
    assert config.defaults.windows == ("daily", "weekly", "all")


def test_horizon_and_idle_close_defaults_and_overrides() -> None:
    """Contract v2: dedup_seconds 691200 and idle_close_seconds 60 unless set; 0 is
    allowed for both (ids kept forever; idle close off)."""
    assert (BoardsConfig().defaults.dedup_seconds, BoardsConfig().defaults.idle_close_seconds) == (
        691_200,
        60,
    )
    config = parse_boards(
        {
            "defaults": {"dedup_seconds": 3600},
            "boards": {"x": {"idle_close_seconds": 0}, "y": {"dedup_seconds": 0}},
        }
    )
    assert (config.for_board("x").dedup_seconds, config.for_board("x").idle_close_seconds) == (
        3600,
        0,
    )
    assert (config.for_board("y").dedup_seconds, config.for_board("y").idle_close_seconds) == (
        0,
        60,
    )


def test_board_inherits_from_defaults_table() -> None:
    config = parse_boards(
        {"defaults": {"top": 7, "timezone": "Asia/Tokyo"}, "boards": {"x": {"order": "asc"}}}
    )
    assert (config.for_board("x").top, config.for_board("x").timezone) == (7, "Asia/Tokyo")
    assert config.for_board("x").windows == ("daily", "weekly", "all")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"boards": {"speedrun": {"aggregate": "median"}}},
            "boards.speedrun.aggregate: must be one of sum, max, min, last",
        ),
        ({"defaults": {"order": "up"}}, "defaults.order: must be one of desc, asc"),
        (
            {"defaults": {"windows": []}},
            "defaults.windows: must be a non-empty list of distinct values from daily, weekly, all",
        ),
        (
            {"defaults": {"windows": ["daily", "daily"]}},
            "defaults.windows: must be a non-empty list",
        ),
        ({"defaults": {"windows": ["hourly"]}}, "defaults.windows: must be a non-empty list"),
        ({"defaults": {"top": 0}}, "defaults.top: must be an integer from 1 to 10000"),
        ({"defaults": {"top": 10001}}, "defaults.top: must be an integer from 1 to 10000"),
        ({"defaults": {"top": True}}, "defaults.top: must be an integer from 1 to 10000"),
        (
            {"defaults": {"timezone": "Mars/Base"}},
            "defaults.timezone: unknown IANA time zone 'Mars/Base'",
        ),
        (
            {"defaults": {"week_start": "funday"}},
            "defaults.week_start: must be one of monday, tuesday",
        ),
        ({"defaults": {"grace_seconds": -1}}, "defaults.grace_seconds: must be an integer >= 0"),
        ({"defaults": {"retain": 1.5}}, "defaults.retain: must be an integer >= 0"),
        (
            {"defaults": {"dedup_seconds": -1}},
            "defaults.dedup_seconds: must be an integer >= 0",
        ),
        (
            {"boards": {"x": {"idle_close_seconds": "60"}}},
            "boards.x.idle_close_seconds: must be an integer >= 0",
        ),
        ({"max_future_seconds": "10"}, "max_future_seconds: must be an integer >= 0"),
        (
            {"boards": {"x": {"agregate": "sum"}}},
            "boards.x.agregate: unknown key; allowed keys are aggregate",
        ),
        ({"colour": 1}, "colour: unknown key"),
        ({"boards": {"bad name": {}}}, "boards.bad name: board names must match"),
        ({"boards": {"x": 3}}, "boards.x: must be a table"),
    ],
)
def test_errors_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_boards(data)
    assert message in str(err.value)


def test_file_errors(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "b.toml"
    path.write_text("[defaults\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_boards(path)
    with pytest.raises(ConfigError, match="no such boards file"):
        load_boards(Path(str(tmp_path)) / "missing.toml")
    assert load_boards(None).defaults.top == 100
