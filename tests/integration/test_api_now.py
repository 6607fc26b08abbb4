"""A live worker's answers about "now" and its JSON errors: a board whose events are days
old answers today's (empty) window without period and the old day by period; a configured
board without events answers its current windows; /boards lists them; every bad request,
unknown route and other method is a JSON 4xx."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from schemas.timefmt import format_ms
from streams.engine.config import load_boards
from streams.engine.query import current_windows

from .api_support import get, q, start_api_worker, wait_ready
from .conftest import Job
from .kafka_io import produce

BOARDS = """
[boards.arena]
timezone = "Europe/Berlin"
[boards.quiet]
timezone = "Pacific/Kiritimati"
week_start = "sunday"
"""
DAY_MS = 86_400_000


def event(n: int, user: str, score: int, ts: int) -> bytes:
    body = {"event_id": f"e{n}", "board": "arena", "user": user, "score": score, "ts": ts}
    return json.dumps(body).encode()


def request(url: str, method: str) -> tuple[int, dict[str, str], Any]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def expected_windows(boards: Path, board: str) -> list[list[dict[str, Any]]]:
    """The current windows a worker may answer: at the clock of now, and a moment later
    (the test must not fail when a midnight passes in between)."""
    config = load_boards(boards).for_board(board)
    now = time.time_ns() // 1_000_000
    answers = []
    for at in (now, now + 60_000):
        answers.append(
            [
                {
                    "window": w.kind,
                    "period": w.period,
                    "window_start": None if w.start is None else format_ms(w.start),
                    "window_end": None if w.end is None else format_ms(w.end),
                }
                for w in current_windows(config, at)
            ]
        )
    return answers


def bounds(window: dict[str, Any]) -> dict[str, Any]:
    return {k: window[k] for k in ("window", "period", "window_start", "window_end")}


def test_now_windows_and_json_errors(job_factory: Callable[..., Job], tmp_path: Path) -> None:
    boards = tmp_path / "boards.toml"
    boards.write_text(BOARDS)
    job = job_factory(boards=boards)
    base = start_api_worker(job)
    wait_ready(base, job)
    old = time.time_ns() // 1_000_000 - 3 * DAY_MS  # three days ago: not today, not late
    produce(
        job.bootstrap,
        job.scores,
        [event(0, "ann", 5, old), event(1, "c,d", 9, old + 1), event(2, "bob", 7, old + 2)],
    )
    deadline = time.monotonic() + 30
    while get(base + "/boards/arena/all")[1].get("size") != 3:
        assert time.monotonic() < deadline, job.log_tail()
        time.sleep(0.3)
    tz = ZoneInfo("Europe/Berlin")
    old_day = datetime.fromtimestamp(old / 1000, UTC).astimezone(tz).date().isoformat()

    # Without period: today's window, open and empty, not the day of the last events.
    for board in ("arena", "quiet"):
        allowed = expected_windows(boards, board)
        status, listing = get(f"{base}/api/boards/{board}")
        assert status == 200, listing
        assert [bounds(w) for w in listing["current"]] in allowed, listing
        assert all(w["open"] for w in listing["current"])
        for kind in ("daily", "weekly"):
            status, page = get(f"{base}/boards/{board}/{kind}")
            assert status == 200, page
            assert bounds(page) in [w for ws in allowed for w in ws], page
            assert page["open"], page
            if board == "quiet" or kind == "daily":  # the old day may be in this week
                assert (page["size"], page["entries"]) == (0, []), page
    status, page = get(f"{base}/boards/arena/daily?period={old_day}")
    assert (status, [e["user"] for e in page["entries"]]) == (200, ["c,d", "bob", "ann"]), page
    status, listing = get(base + "/boards")
    names = {b["board"]: b for b in listing["boards"]}
    assert {"arena", "quiet"} <= set(names)
    assert [bounds(w) for w in names["quiet"]["current"]] in expected_windows(boards, "quiet")
    assert [w["window"] for w in names["quiet"]["open"]] == ["all"]  # no event: no day open
    assert names["quiet"]["retained"] == []

    # A user id with a comma, by repeated id= (ids= splits on commas).
    status, many = get(f"{base}/boards/arena/all/users?id={q('c,d')}&ids=ann,nobody")
    assert status == 200, many
    assert [(u["user"], u["rank"]) for u in many["users"]] == [
        ("ann", 3),
        ("nobody", None),
        ("c,d", 1),
    ]
    status, one = get(f"{base}/boards/arena/all/users/{q('c,d')}?around=1")
    assert (status, one["rank"], [n["user"] for n in one["neighbors"]]) == (200, 1, ["bob"])

    for path, code, error, parameter in [
        ("/boards/arena/all?limit=%C2%B2", 400, "bad_parameter", "limit"),
        ("/boards/arena/daily?period=", 400, "bad_parameter", "period"),
        ("/boards/arena/daily/users/ann?period=", 400, "bad_parameter", "period"),
        ("/boards/arena/daily/users?ids=ann&period=", 400, "bad_parameter", "period"),
        ("/boards/arena/all?period=", 400, "bad_parameter", "period"),
        ("/boards/arena/daily?period=2026-02-30", 400, "bad_parameter", "period"),
        ("/boards/arena/daily?limit=1&limit=2", 400, "bad_parameter", "limit"),
        ("/boards/arena/daily?limt=1", 400, "bad_parameter", "limt"),
        ("/boards/arena/daily/users", 400, "bad_parameter", "ids"),
        ("/boards/bad%20name/daily", 400, "bad_parameter", "board"),
        ("/boards?scope=everything", 400, "bad_parameter", "scope"),
        ("/healthz?verbose=1", 400, "bad_parameter", "verbose"),
        ("/boards/never-seen/daily", 404, "unknown_board", ""),
        ("/api/boards/never-seen", 404, "unknown_board", ""),
        ("/boards/arena/hourly", 404, "unknown_window", ""),
        ("/boards/arena/all?period=2026-01-01", 404, "unknown_period", ""),
        ("/boards/arena/daily?period=1999-01-01", 404, "unknown_period", ""),
        ("/boards/arena/all/users/nobody", 404, "unknown_user", ""),
        ("/no/such/route", 404, "not_found", ""),
        ("/boards/arena/daily/extra/segments/here", 404, "not_found", ""),
        ("/table/state/", 404, "not_found", ""),  # faust's introspection views are off
    ]:
        status, body = get(base + path)
        assert (status, body["error"]) == (code, error), (path, body)
        assert body["status"] == code and body["message"], (path, body)
        assert not parameter or body["message"].startswith(f"{parameter}: "), (path, body)
    status, headers, body = request(base + "/boards/arena/daily", "POST")
    assert (status, body["error"]) == (405, "method_not_allowed"), body
    assert "GET" in headers.get("Allow", ""), headers
    status, _, _ = request(base + "/boards/arena/daily", "HEAD")
    assert status == 200
    status, spec = get(base + "/openapi.json")
    assert status == 200 and "/boards/{board}/{window}" in spec["paths"]
    assert "Traceback" not in (tmp_path / "worker-0-1.log").read_text(errors="replace")
