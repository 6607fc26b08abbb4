"""`rankstream demo` (event stream, pacing, CLI) and `rankstream watch` (rendering, CLI)
without a broker."""

from __future__ import annotations

import argparse
import io
import itertools
import json
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from streams.apps import demo, watch
from streams.apps.demo import Pacer
from streams.apps.demofeed import (
    BOARDS,
    INVALID_LINE,
    DemoConfig,
    Message,
    iter_messages,
    user_names,
)
from streams.apps.replay import replay
from streams.apps.watch import CLEAR, WatchView, render_frame
from streams.edge.validation import Rejection, decode_event
from streams.engine.config import parse_boards
from streams.engine.events import ScoreEvent

NOW_MS = 1_795_752_000_000  # 2026-11-27T01:20:00Z


def fixed_clock(start: int = NOW_MS, step: int = 20) -> Any:
    """A clock advancing ``step`` ms per reading, like a 50/s paced producer."""
    counter = itertools.count()
    return lambda: start + step * next(counter)


def take(n: int, *, seed: int = 7, **config: Any) -> list[Message]:
    stream = iter_messages(DemoConfig(**config), fixed_clock(), random.Random(seed))
    return list(itertools.islice(stream, n))


# --- the event stream --------------------------------------------------------------------


def test_deterministic_for_seed_and_clock() -> None:
    assert take(500, seed=3) == take(500, seed=3)
    assert take(500, seed=3) != take(500, seed=4)


def test_every_valid_message_passes_intake() -> None:
    events: list[ScoreEvent] = []
    for message in take(3000, users=500):
        assert message.valid
        event = decode_event(message.value)
        assert isinstance(event, ScoreEvent), (message.value, event)
        assert message.key == event.board.encode()
        events.append(event)
    assert {event.board for event in events} == {board.name for board in BOARDS}
    assert len({(event.board, event.event_id) for event in events}) == len(events)
    # event time is the (injected) wall clock, at most 3 s back for the out-of-order ones
    for index, event in enumerate(events):
        clock_ms = NOW_MS + 20 * (index + 1)  # reading 0 is the run id
        assert clock_ms - 3000 <= event.ts <= clock_ms


def test_ts_forms_are_mixed() -> None:
    forms: Counter[str] = Counter()
    for message in take(1000):
        ts = json.loads(message.value)["ts"]
        if isinstance(ts, int):
            forms["epoch_ms"] += 1
        elif ts.endswith("Z"):
            forms["utc"] += 1
        else:
            forms["offset"] += 1
    assert all(forms[kind] > 100 for kind in ("epoch_ms", "utc", "offset")), forms


def test_scores_fit_each_board() -> None:
    by_board: dict[str, list[int]] = {}
    for message in take(3000):
        obj = json.loads(message.value)
        by_board.setdefault(obj["board"], []).append(obj["score"])
    assert any(score < 0 for score in by_board["arena"])  # penalties
    assert all(30_000 <= lap <= 400_000 for lap in by_board["speedrun"])
    assert set(by_board["likes"]) <= {1, 2, 3}
    # arena is the busiest board, speedrun the quietest
    assert len(by_board["arena"]) > len(by_board["likes"]) > len(by_board["speedrun"])


def test_user_activity_is_skewed() -> None:
    counts = Counter(json.loads(m.value)["user"] for m in take(5000, users=200))
    ranked = [n for _, n in counts.most_common()]
    assert ranked[0] > 20 * ranked[len(ranked) // 2]  # Zipf-like: a few very busy users
    top10_share = sum(ranked[:10]) / 5000
    assert 0.35 < top10_share < 0.75, top10_share


def test_user_names_look_human_and_are_distinct() -> None:
    names = user_names(100)
    assert names[:3] == ["ada", "grace", "linus"]
    assert len(set(names)) == 100
    assert "ada2" in names
    assert {json.loads(m.value)["user"] for m in take(2000, users=30)} <= set(user_names(30))


def test_event_ids_differ_between_runs() -> None:
    """A rerun (another start time) must not collide with the job's dedup of the first."""
    first = iter_messages(DemoConfig(), fixed_clock(NOW_MS), random.Random(1))
    second = iter_messages(DemoConfig(), fixed_clock(NOW_MS + 60_000), random.Random(1))
    ids_first = {json.loads(m.value)["event_id"] for m in itertools.islice(first, 100)}
    ids_second = {json.loads(m.value)["event_id"] for m in itertools.islice(second, 100)}
    assert ids_first.isdisjoint(ids_second)


def test_invalid_every_mixes_in_dead_letters() -> None:
    messages = take(100, invalid_every=10)
    invalid = [i for i, m in enumerate(messages, 1) if not m.valid]
    assert invalid == list(range(10, 101, 10))
    for i in invalid:
        message = messages[i - 1]
        assert message == Message(None, INVALID_LINE, False)
        assert isinstance(decode_event(message.value), Rejection)
    assert all(isinstance(decode_event(m.value), ScoreEvent) for m in messages if m.valid)


@pytest.mark.parametrize(
    ("config", "error"), [({"users": 0}, "users"), ({"invalid_every": 0}, "invalid_every")]
)
def test_bad_config(config: dict[str, int], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        DemoConfig(**config)


def test_engine_accepts_the_stream() -> None:
    """Through the real engine (as `rankstream replay` runs it): no dead letter but the
    invalid lines, and the speedrun board ranks the fastest lap first."""
    boards = parse_boards({"boards": {"speedrun": {"aggregate": "min", "order": "asc"}}})
    lines = b"".join(m.value + b"\n" for m in take(2000, invalid_every=100))
    changes, dead = io.BytesIO(), io.BytesIO()
    stats = replay(io.BytesIO(lines), changes, dead, boards, lambda: NOW_MS + 3_600_000)
    assert stats.dead_letters == 20
    assert {json.loads(line)["reason"] for line in dead.getvalue().splitlines()} == {"bad_json"}
    view = WatchView()
    for line in changes.getvalue().splitlines():
        assert view.apply_raw(line)
    laps = [score for _, _, score in view.folded.standings(("speedrun", "all", None))]
    assert laps == sorted(laps)
    assert len(view.current()) == 9  # 3 boards x daily, weekly, all


# --- pacing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "index", "elapsed", "delay"),
    [
        (50, 0, 0.0, 0.0),
        (50, 1, 0.0, 0.02),
        (50, 50, 0.5, 0.5),
        (50, 10, 0.3, 0.0),  # behind schedule: no wait, catch up
        (0.5, 3, 1.0, 5.0),
        (1000, 1000, 0.999, 0.001),
    ],
)
def test_pacer_delay(rate: float, index: int, elapsed: float, delay: float) -> None:
    assert Pacer(rate).delay(index, elapsed) == pytest.approx(delay)


@pytest.mark.parametrize(
    ("rate", "seconds", "count"),
    [
        (50, 2, 100),
        (50, 0.01, 1),
        (3, 1, 3),
        (3, 1.0001, 4),
        (0.5, 10, 5),
        (7, 0, 0),
        (1e4, 1.5, 15000),
    ],
)
def test_pacer_count_by(rate: float, seconds: float, count: int) -> None:
    pacer = Pacer(rate)
    assert pacer.count_by(seconds) == count
    # exactly the messages due before the deadline
    assert all(pacer.due(i) < seconds for i in range(count))
    assert pacer.due(count) >= seconds


@pytest.mark.parametrize("rate", [0, -1, float("nan")])
def test_pacer_rejects_bad_rates(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        Pacer(rate)


# --- command line ------------------------------------------------------------------------


def cli() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rankstream")
    sub = parser.add_subparsers(dest="command")
    demo.add_parser(sub)
    watch.add_parser(sub)
    return parser


def test_demo_parser_defaults_and_options() -> None:
    args = cli().parse_args(["demo"])
    assert (args.bootstrap, args.topic, args.rate, args.users, args.duration, args.seed) == (
        None,  # resolved from the settings when it runs
        None,
        50.0,
        200,
        None,
        None,
    )
    assert args.invalid_every is None
    assert args.run is demo._run_demo
    args = cli().parse_args(
        [
            *("demo", "--bootstrap", "k:1", "--topic", "t", "--rate", "5", "--users", "9"),
            *("--duration", "2.5", "--seed", "4", "--invalid-every", "10"),
        ]
    )
    assert (args.bootstrap, args.topic, args.rate, args.users, args.duration) == (
        "k:1",
        "t",
        5.0,
        9,
        2.5,
    )
    assert (args.seed, args.invalid_every) == (4, 10)


@pytest.mark.parametrize(
    "argv", [["--rate", "0"], ["--rate", "x"], ["--users", "0"], ["--invalid-every", "-2"]]
)
def test_demo_parser_rejects(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli().parse_args(["demo", *argv])
    assert "error: argument" in capsys.readouterr().err


def test_parsers_default_from_given_settings() -> None:
    from streams.runtime.settings import Settings

    settings = Settings(kafka_bootstrap="k:9", scores_topic="s-in", changes_topic="s-out")
    parser = argparse.ArgumentParser(prog="rankstream")
    sub = parser.add_subparsers(dest="command")
    demo.add_parser(sub, settings)
    watch.add_parser(sub, settings)
    args = parser.parse_args(["demo"])
    assert (args.bootstrap, args.topic) == ("k:9", "s-in")
    args = parser.parse_args(["watch"])
    assert (args.bootstrap, args.topic) == ("k:9", "s-out")


def test_bad_settings_fail_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RANKSTREAM_PARTITIONS", "0")
    for argv in (["demo"], ["watch"]):
        args = cli().parse_args(argv)
        assert args.run(args) != 0
        assert "RANKSTREAM_PARTITIONS" in capsys.readouterr().err


def test_watch_parser() -> None:
    args = cli().parse_args(["watch"])
    assert (args.from_beginning, args.board, args.limit, args.max_seconds) == (False, [], 10, None)
    assert args.run is watch._run_watch
    args = cli().parse_args(
        [
            *("watch", "--from-beginning", "--board", "a", "--board", "b", "--limit", "3"),
            *("--max-seconds", "1.5"),
        ]
    )
    assert (args.from_beginning, args.board, args.limit, args.max_seconds) == (
        True,
        ["a", "b"],
        3,
        1.5,
    )


# --- watch: rendering ----------------------------------------------------------------------

DAY = {
    "window": "daily",
    "period": "2026-11-27",
    "window_start": "2026-11-27T00:00:00Z",
    "window_end": "2026-11-28T00:00:00Z",
}
ALL = {"window": "all", "period": None, "window_start": None, "window_end": None}


def rc(
    window: dict[str, Any],
    user: str,
    old: int | None,
    new: int | None,
    score: int,
    cause: str,
    board: str = "arena",
) -> bytes:
    """A rank_change record (contract section 3) as the push topic carries it."""
    record = {"type": "rank_change", "board": board, **window, "user": user}
    record |= {"old_rank": old, "new_rank": new, "score": score, "cause": cause}
    return json.dumps(record).encode()


def fold(*records: bytes) -> WatchView:
    view = WatchView()
    for record in records:
        view.apply_raw(record)
    return view


def rows(text: str) -> Iterator[str]:
    return (line for line in text.splitlines() if line.startswith("  "))


def test_render_folds_windows_in_order() -> None:
    view = fold(
        rc(ALL, "ada", None, 1, 50, "e1"),
        rc(DAY, "ada", None, 1, 50, "e1"),
        rc(DAY, "grace", None, 1, 70, "e2"),
        rc(DAY, "ada", 1, 2, 50, "e2"),
        rc(ALL, "grace", None, 1, 70, "e2"),
        rc(ALL, "ada", 1, 2, 50, "e2"),
        rc(DAY, "x", None, 1, 5, "e3", board="likes"),
    )
    frame = render_frame(view, title="title")
    assert frame.text == "\n".join(
        [
            "title",
            "7 records, 3 windows, 0 closed",
            "",
            "arena / daily  period 2026-11-27  ends 2026-11-28T00:00:00Z",
            "     1  grace                              70",
            "     2  ada                                50",
            "",
            "arena / all",
            "     1  grace                              70",
            "     2  ada                                50",
            "",
            "likes / daily  period 2026-11-27  ends 2026-11-28T00:00:00Z",
            "     1  x                                   5",
        ]
    )
    assert frame.shown[("arena", "daily", "2026-11-27")] == {"grace": 1, "ada": 2}
    assert CLEAR not in frame.text and "\x1b" not in frame.text


def test_render_marks_movers_since_previous_frame() -> None:
    view = fold(
        rc(DAY, "ada", None, 1, 50, "e1"),
        rc(DAY, "grace", None, 2, 40, "e2"),
        rc(DAY, "linus", None, 3, 30, "e3"),
    )
    first = render_frame(view)
    assert not any("▲" in row for row in rows(first.text))  # no previous frame: no marks
    view.apply_raw(rc(DAY, "linus", 3, 1, 90, "e4"))
    view.apply_raw(rc(DAY, "ada", 1, 2, 50, "e4"))
    view.apply_raw(rc(DAY, "grace", 2, 3, 40, "e4"))
    view.apply_raw(rc(DAY, "alan", None, 4, 10, "e5"))
    second = render_frame(view, first.shown)
    assert list(rows(second.text)) == [
        "     1  linus                              90  ▲2",
        "     2  ada                                50",
        "     3  grace                              40",
        "     4  alan                               10  ▲new",
    ]
    third = render_frame(view, second.shown)  # nothing moved since
    assert not any("▲" in row for row in rows(third.text))


def test_render_color_highlights_movers_only() -> None:
    view = fold(rc(DAY, "ada", None, 1, 50, "e1"), rc(DAY, "grace", None, 2, 40, "e2"))
    first = render_frame(view, color=True)
    view.apply_raw(rc(DAY, "grace", 2, 1, 60, "e3"))
    view.apply_raw(rc(DAY, "ada", 1, 2, 50, "e3"))
    text = render_frame(view, first.shown, color=True).text
    grace = next(line for line in text.splitlines() if "grace" in line)
    ada = next(line for line in text.splitlines() if "ada" in line)
    assert grace.startswith("\x1b[32;1m") and "▲1" in grace
    assert "\x1b" not in ada


def test_render_limit_leavers_and_newest_period() -> None:
    old_day = DAY | {"period": "2026-11-26", "window_end": "2026-11-27T00:00:00Z"}
    records = [rc(old_day, "old", None, 1, 1, "e0")]
    records += [rc(DAY, f"u{i}", None, i, 100 - i, f"e{i}") for i in range(1, 13)]
    records.append(rc(DAY, "u3", 3, None, 97, "e13"))  # left the top-K
    view = fold(*records)
    text = render_frame(view, limit=10).text
    assert "period 2026-11-27" in text and "2026-11-26" not in text  # only the newest period
    shown = [row.split()[1] for row in rows(text)]
    # u3 left; ten rows are shown, so rank 12 is cut
    assert shown == ["u1", "u2", "u4", "u5", "u6", "u7", "u8", "u9", "u10", "u11"]
    assert render_frame(view, boards={"likes"}).text.endswith("(waiting for rank changes)")


def test_render_closed_window_and_skipped_records() -> None:
    closed = {
        "type": "window_closed",
        "board": "arena",
        **DAY,
        "standings": [{"rank": 1, "user": "ada", "score": 50}],
    }
    view = fold(
        rc(DAY, "ada", None, 1, 50, "e1"),
        json.dumps(closed).encode(),
        b"User Score Update",
        b'{"type": "rank_change"}',
        b"[1]",
    )
    assert (view.records, view.skipped) == (2, 3)
    text = render_frame(view).text
    assert "2 records, 1 windows, 1 closed, 3 skipped" in text
    assert "ends 2026-11-28T00:00:00Z  (closed)" in text
