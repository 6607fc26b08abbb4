"""End to end in headless Chromium: score events produced to Kafka show up on the live
board page (server-sent events) within 2 seconds, movers highlighted; a screenshot is
saved under the test's output folder. Fails, never skips, without the browser."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from ..integration.api_support import get, start_api_worker, wait_ready
from ..integration.conftest import Job
from ..integration.kafka_io import produce

BOARDS = """
[defaults]
top = 10
[boards.arena]
"""
LIMIT_S = 2.0


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.fail(
            "headless Chromium is missing (chromium and chromedriver on PATH); "
            "install it with `bash deploy/browser/install.sh` (make test does)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
    ):
        options.add_argument(arg)
    chrome = webdriver.Chrome(options=options, service=Service(driver))
    try:
        yield chrome
    finally:
        chrome.quit()


def event(user: str, score: int, ago_ms: int = 0) -> bytes:
    return json.dumps(
        {
            "event_id": uuid.uuid4().hex,
            "board": "arena",
            "user": user,
            "score": score,
            "ts": time.time_ns() // 1_000_000 - ago_ms,
        }
    ).encode()


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def rows(chrome: webdriver.Chrome, kind: str) -> list[tuple[str, str, str]]:
    """(user, highlight class, text) of each row, read in one script: the page re-renders
    its tables every second, so element handles go stale."""
    script = (
        "return [...document.querySelectorAll(arguments[0])]"
        ".map(tr => [tr.dataset.user, tr.className, tr.innerText]);"
    )
    found = chrome.execute_script(script, f"#window-{kind} tbody tr")
    return [tuple(row) for row in found]


def test_events_appear_on_the_live_page(
    job_factory: Callable[..., Job], tmp_path: Path, browser: webdriver.Chrome
) -> None:
    boards = tmp_path / "boards.toml"
    boards.write_text(BOARDS)
    job = job_factory(boards=boards)
    base = start_api_worker(job)
    wait_ready(base, job)
    # Yesterday's standings, then today's, so that the page has a board to show, movers
    # to shift, and a previous day.
    produce(job.bootstrap, job.scores, [event("yesterday", 1, ago_ms=86_400_000)])
    assert wait_for(lambda: get(base + "/boards/arena/all")[1].get("size") == 1, 30)
    produce(job.bootstrap, job.scores, [event(f"player{n}", 10 * n) for n in range(1, 6)])
    assert wait_for(lambda: get(base + "/boards/arena/daily")[1].get("size") == 5, 30)

    browser.get(base + "/")
    assert wait_for(lambda: bool(browser.find_elements(By.CSS_SELECTOR, "a.board-link")), 10)
    browser.find_element(By.CSS_SELECTOR, "a.board-link").click()
    assert wait_for(lambda: len(rows(browser, "daily")) == 5, 10), browser.page_source[:2000]
    assert wait_for(lambda: "live" in browser.find_element(By.ID, "status").text, 10)
    meta = browser.find_element(By.CSS_SELECTOR, "#window-daily .meta").text
    assert "period" in meta and "closes at" in meta
    # The previous day, by the current one: yesterday's standings (final once closed).
    assert wait_for(lambda: [u for u, _, _ in rows(browser, "daily-previous")] == ["yesterday"], 10)
    assert "period" in browser.find_element(By.CSS_SELECTOR, "#window-daily-previous .meta").text

    # A newcomer jumps to the top of every window: on the page within 2 seconds.
    newcomer = f"newcomer-{uuid.uuid4().hex[:6]}"
    produce(job.bootstrap, job.scores, [event(newcomer, 1000)])
    sent = time.monotonic()
    for kind in ("daily", "weekly", "all"):
        assert wait_for(
            lambda kind=kind: any(u == newcomer for u, _, _ in rows(browser, kind)[:1]),
            LIMIT_S - (time.monotonic() - sent),
        ), f"{newcomer} not first in {kind} within {LIMIT_S}s: {rows(browser, kind)}"
    elapsed = time.monotonic() - sent
    first = rows(browser, "daily")[0]
    assert first[1] == "new" and "1000" in first[2], first  # highlighted as a newcomer

    # A mover: player1 overtakes everyone but the newcomer, marked as moving up.
    produce(job.bootstrap, job.scores, [event("player1", 100)])
    assert wait_for(
        lambda: [u for u, _, _ in rows(browser, "all")][:2] == [newcomer, "player1"], LIMIT_S
    ), rows(browser, "all")
    mover = rows(browser, "all")[1]
    assert mover[1] == "up", mover

    shot = tmp_path / "live-board.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 1000
    print(f"newcomer on the page {elapsed:.2f}s after produce; screenshot: {shot}")
