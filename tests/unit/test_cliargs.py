"""The CLI set-up every subcommand shares (streams/apps/cliargs.py): a bad setting or boards
file ends any command with one line naming the variable and the command's exit status,
before any broker is contacted."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from streams.apps import cliargs
from streams.apps.cli import main
from streams.runtime.settings import Settings, SettingsError


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No .env of the checkout and no RANKSTREAM_* of the shell leaks into these tests."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("RANKSTREAM_")]:
        monkeypatch.delenv(name)


# (command, exit status for a bad setting): the services 2, the interactive tools 1.
COMMANDS = [("worker", 2), ("intake", 2), ("bridge", 2), ("demo", 1), ("watch", 1)]


@pytest.mark.parametrize(("command", "status"), COMMANDS)
def test_a_bad_setting_is_one_line_and_the_commands_status(
    command: str, status: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RANKSTREAM_WEB_PORT", "70000")
    assert main([command]) == status
    err = capsys.readouterr().err
    assert err.startswith("rankstream: error: invalid settings:"), err
    assert "RANKSTREAM_WEB_PORT" in err and "70000" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("command", "status"), [("worker", 2), ("intake", 2), ("watch", 1)])
def test_a_bad_boards_file_names_its_variable(
    command: str,
    status: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "nope.toml"
    monkeypatch.setenv("RANKSTREAM_BOARDS", str(missing))
    assert main([command]) == status
    err = capsys.readouterr().err
    assert err == f"rankstream: error: RANKSTREAM_BOARDS: {missing}: no such boards file\n"


def test_run_command_reads_the_settings_once_and_reports_what_start_raises(
    capsys: pytest.CaptureFixture[str],
) -> None:
    given = Settings(app_id="given")
    seen: list[Settings] = []

    def start(settings: Settings) -> int:
        seen.append(settings)
        raise SettingsError("RANKSTREAM_KAFKA_SSL_CAFILE: not a PEM file")

    args = argparse.Namespace(_settings=given)
    assert cliargs.run_command(args, start, status=7) == 7
    assert seen == [given]
    assert capsys.readouterr().err == (
        "rankstream: error: RANKSTREAM_KAFKA_SSL_CAFILE: not a PEM file\n"
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ("k:1", "from-settings")),
        (["--topic", "t"], ("k:1", "t")),
        (["--bootstrap", "b:2"], ("b:2", "from-settings")),
    ],
)
def test_kafka_target_prefers_options_over_the_settings(
    argv: list[str], expected: tuple[str, str]
) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cliargs.add_kafka_command(
        sub, "x", None, "changes_topic", help="h", description="d", topic_help="t"
    )
    args = parser.parse_args(["x", *argv])
    settings = Settings(kafka_bootstrap="k:1", changes_topic="from-settings")
    assert cliargs.kafka_target(args, settings) == expected


def test_run_until_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    async def ok() -> None:
        return None

    async def broken() -> None:
        raise ConnectionError("refused")

    async def interrupted() -> None:
        raise KeyboardInterrupt

    stops: list[str] = []
    assert cliargs.run_until_stopped(ok(), "cannot x") == 0
    assert cliargs.run_until_stopped(interrupted(), "cannot x", lambda: stops.append("s")) == 0
    assert stops == ["s"]
    assert cliargs.run_until_stopped(broken(), "cannot x") == 1
    assert capsys.readouterr().err == "rankstream: error: cannot x: ConnectionError: refused\n"
