"""schemathesis against a live worker: every operation of /openapi.json, first with the
document's examples, then random valid inputs, then random invalid ones (bounded in count),
on a worker with a few events. No answer may be a 5xx, and every answer (status, content
type, headers, body) must match the document. The request that once answered
``500 Server got itself in trouble`` is a regression check of its own."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.generation.meta import TestPhase
from schemathesis.specs.openapi.checks import positive_data_acceptance

from .api_support import get, start_api_worker, wait_ready
from .conftest import Job
from .kafka_io import produce

BOARDS = """
[boards.arena]
top = 5
[boards.speedrun]
aggregate = "min"
order = "asc"
windows = ["daily", "weekly"]
timezone = "Europe/Berlin"
[boards.quiet]
timezone = "America/New_York"
"""
POSITIVE = 150  # random valid requests per operation
NEGATIVE = 80  # random invalid requests per operation


def check_settings(count: int) -> settings:
    return settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )


def events(now: int) -> list[bytes]:
    rows = []
    for n, (board, user, score) in enumerate(
        [("arena", "ann", 5), ("arena", "bob", 9), ("arena", "c,d", 7), ("speedrun", "ann", 42)]
    ):
        rows.append(
            f'{{"event_id": "e{n}", "board": "{board}", "user": "{user}", '
            f'"score": {score}, "ts": {now - n * 1000}}}'.encode()
        )
    return rows


def test_schemathesis_finds_no_failure(job_factory: Callable[..., Job], tmp_path: Path) -> None:
    boards = tmp_path / "boards.toml"
    boards.write_text(BOARDS)
    job = job_factory(boards=boards)
    base = start_api_worker(job)
    wait_ready(base, job)
    produce(job.bootstrap, job.scores, events(time.time_ns() // 1_000_000))
    deadline = time.monotonic() + 30
    while get(base + "/boards/arena/all")[1].get("size") != 3:
        assert time.monotonic() < deadline, job.log_tail()
        time.sleep(0.3)

    # The regression: a superscript two passed str.isdigit() and failed int().
    status, body = get(base + "/boards/arena/all?limit=%C2%B2")
    assert (status, body["error"]) == (400, "bad_parameter"), body
    assert body["message"].startswith("limit:")

    schema = schemathesis.openapi.from_url(base + "/openapi.json")
    schema.config.base_url = base
    session = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    # schemathesis leaves out the document's own path; the others are all there.
    assert {op.path for op in operations} == {
        "/boards",
        "/api/boards/{board}",
        "/boards/{board}/{window}",
        "/boards/{board}/{window}/users/{user}",
        "/boards/{board}/{window}/users",
        "/healthz",
        "/metrics",
    }
    started = time.monotonic()
    calls = 0

    def check(case: schemathesis.Case) -> None:
        nonlocal calls
        calls += 1
        if _no_users(case):
            # ids and id are both optional (OpenAPI cannot say "one of them"), but a
            # request for no user at all is a 400: the one schema-valid request the API
            # rejects, on purpose.
            response = case.call(session=session, timeout=15)
            assert response.status_code == 400, response.text
            case.validate_response(response, excluded_checks=[positive_data_acceptance])
            return
        case.call_and_validate(session=session, timeout=15)

    for operation in operations:
        strategies = [
            (examples, 1) for examples in operation.get_strategies_from_examples()
        ]  # the document's examples (board arena, user ann, ...): real data
        strategies.append(
            (operation.as_strategy(GenerationMode.POSITIVE, phase=TestPhase.FUZZING), POSITIVE)
        )
        if len(operation.path_parameters) + len(operation.query):  # something to break
            strategies.append(
                (operation.as_strategy(GenerationMode.NEGATIVE, phase=TestPhase.FUZZING), NEGATIVE)
            )
        for strategy, count in strategies:

            @check_settings(count)
            @given(case=strategy)
            def run(case: schemathesis.Case) -> None:
                check(case)

            run()
    elapsed = time.monotonic() - started
    assert job.procs[0].poll() is None, job.log_tail()
    assert "Traceback" not in (tmp_path / "worker-0-1.log").read_text(errors="replace")
    print(f"schemathesis: {calls} requests over {len(operations)} operations in {elapsed:.1f}s")


def _no_users(case: schemathesis.Case) -> bool:
    query = case.query or {}
    return (
        case.operation.path == "/boards/{board}/{window}/users"
        and case.meta is not None
        and case.meta.generation.mode == GenerationMode.POSITIVE
        and not query.get("ids")
        and not query.get("id")
    )
