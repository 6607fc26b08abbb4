"""Helpers for the query API tests: workers on known web ports, JSON over HTTP, and the
comparison of every query with the reference model."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ..unit.reference import Reference
from .conftest import Job, free_port

BOARDS_TOML = """
max_future_seconds = 600
[defaults]
top = 5
retain = 2
grace_seconds = 60
[boards.speedrun]
aggregate = "min"
order = "asc"
windows = ["daily", "weekly"]
top = 3
timezone = "Europe/Berlin"
[boards.likes]
aggregate = "max"
top = 4
timezone = "America/New_York"
week_start = "sunday"
"""


def write_boards(tmp: Path) -> Path:
    path = tmp / "boards.toml"
    path.write_text(BOARDS_TOML)
    return path


def start_api_worker(job: Job, worker: int = 0) -> str:
    """Start a worker on a web port chosen here; returns its base URL."""
    port = free_port()
    plain_env = job.env

    def env(w: int = 0) -> dict[str, str]:
        return {**plain_env(w), "RANKSTREAM_WEB_PORT": str(port)}

    job.env = env  # type: ignore[method-assign]
    try:
        job.start_worker(worker)
    finally:
        job.env = plain_env  # type: ignore[method-assign]
    return f"http://localhost:{port}"


def get(url: str, timeout: float = 10) -> tuple[int, Any]:
    """(status, decoded JSON body) of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_ready(base: str, job: Job, worker: int = 0, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert job.procs[-1].poll() is None or any(p.poll() is None for p in job.procs), (
            f"worker died:\n{job.log_tail(worker)}"
        )
        try:
            status, _ = get(base + "/healthz", timeout=2)
            if status == 200:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{base} not ready after {timeout}s:\n{job.log_tail(worker)}")


def q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def full_standings(
    base: str, board: str, kind: str, period: str | None
) -> list[tuple[int, str, int]]:
    rows: list[tuple[int, str, int]] = []
    suffix = "" if period is None else f"&period={period}"
    while True:
        status, page = get(f"{base}/boards/{q(board)}/{kind}?limit=1000&offset={len(rows)}{suffix}")
        assert status == 200, page
        rows += [(e["rank"], e["user"], e["score"]) for e in page["entries"]]
        if len(page["entries"]) < 1000:
            return rows


def compare_board(base: str, board: str, ref: Reference) -> list[str]:
    """Every listed window of ``board`` against the reference; returns the problems."""
    problems: list[str] = []
    status, info = get(f"{base}/api/boards/{q(board)}")
    if status != 200:
        return [f"{board}: board info {status} {info}"]
    for window in info["open"] + info["retained"]:
        kind, period = window["window"], window["period"]
        expected = [(r, u, s) for r, (u, s) in enumerate(ref.standings((board, kind, period)), 1)]
        got = full_standings(base, board, kind, period)
        if got != expected:
            problems.append(
                f"{board}/{kind}/{period}: standings differ ({len(got)} vs {len(expected)})"
            )
            continue
        suffix = "" if period is None else f"&period={period}"
        users = [u for _, u, _ in expected]
        for start in range(0, len(users), 100):
            ids = ",".join(q(u) for u in users[start : start + 100])
            status, many = get(f"{base}/boards/{q(board)}/{kind}/users?ids={ids}{suffix}")
            want = [{"user": u, "rank": r, "score": s} for r, u, s in expected[start : start + 100]]
            if status != 200 or many["users"] != want:
                problems.append(f"{board}/{kind}/{period}: users?ids= differs")
        # One-user queries with neighbours, for users deep outside the top-K too.
        for rank, user, score in expected[:: max(1, len(expected) // 4)] + expected[-1:]:
            status, one = get(f"{base}/boards/{q(board)}/{kind}/users/{q(user)}?around=2{suffix}")
            near = [
                {"rank": r, "user": u, "score": s}
                for r, u, s in expected[max(0, rank - 3) : rank + 2]
                if r != rank
            ]
            if status != 200 or (one["rank"], one["score"], one["neighbors"]) != (
                rank,
                score,
                near,
            ):
                problems.append(f"{board}/{kind}/{period}: user {user} got {status} {one}")
    return problems
