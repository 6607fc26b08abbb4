"""The bridge between RabbitMQ and the stream job, on the real brokers, without faults:
legacy producers (the issue's pika snippet) in both queue modes, dead letters, and the
rank_changes exchange (routing, order, persistence properties, metrics)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pika
import pytest

from streams.apps.bridge.translate import HEADER_DETAIL, HEADER_QUEUE, HEADER_REASON
from streams.edge.validation import Rejection, decode_event
from streams.engine.config import load_boards

from .amqp_io import bind, collect, publish, snippet
from .bridge_data import (
    BOARDS,
    expected_tops,
    fold_mismatches,
    generate,
    got_records,
    is_invalid,
)
from .conftest import ROOT, Bridge, Job
from .kafka_io import consume_until, too_old_ids


def _wait_for_queue(queue: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
        try:
            connection.channel().queue_declare(queue, passive=True)
            return
        except pika.exceptions.ChannelClosedByBroker:
            time.sleep(0.3)
        finally:
            if connection.is_open:
                connection.close()
    pytest.fail(f"the bridge did not declare {queue} within {timeout}s")


def _push_records(job: Job, done: Callable[[list[Any]], bool]) -> list[tuple[int, int, Any]]:
    seen = consume_until(
        job.bootstrap, [job.changes], lambda s: done([r for *_, r in s[job.changes]])
    )
    return [(p, o, r) for p, o, _k, r in seen[job.changes]]


def test_legacy_mode_snippet_unchanged_dead_letters_and_exchange(
    job_factory: Callable[..., Job], bridge_factory: Callable[..., Bridge]
) -> None:
    job = job_factory(boards=BOARDS)
    bridge = bridge_factory(job, mode="legacy")
    arena_queue, all_queue = f"{job.app_id}.arena", f"{job.app_id}.all"
    bind(bridge.exchange, "arena.*", arena_queue)
    bind(bridge.exchange, "#", all_queue)
    job.start_worker()
    bridge.start()

    now, generated = generate(400, seed=11, invalid=True)
    lines = [line for _, line in generated]
    # `future` needs the boards' max_future_seconds and the clock: the engine judges it, so
    # such events pass the bridge and reach the worker's DLQ topic instead.
    invalid = [line for kind, line in generated if is_invalid(kind) and kind != "future"]
    future = [line for kind, line in generated if kind == "future"]
    assert b"User Score Update" in invalid and future
    snippet(bridge.queue, lines)  # the code, unchanged but for the queue name

    expected = expected_tops(now, lines)
    everything = collect(
        all_queue, lambda got: not fold_mismatches(got_records(got), expected), timeout=150
    )
    assert not fold_mismatches(got_records(everything), expected), bridge.log_tail()
    for got in everything:
        record = got.json()
        assert got.routing_key == f"{record['board']}.{record['window']}"

    # Dead letters: exactly the invalid bodies, each with the intake's reason in a header.
    letters = collect(bridge.dlq, lambda got: len(got) >= len(invalid), timeout=30)
    letters += collect(bridge.dlq, lambda got: False, timeout=1.5)  # and nothing more
    assert sorted(g.body for g in letters) == sorted(invalid)
    for got in letters:
        rejection = decode_event(got.body)
        assert isinstance(rejection, Rejection)
        assert got.headers[HEADER_REASON] == rejection.reason
        assert got.headers[HEADER_DETAIL]
        assert got.headers[HEADER_QUEUE] == bridge.queue
    text = next(g for g in letters if g.body == b"User Score Update")
    assert text.headers[HEADER_REASON] == "bad_json"

    # The push topic holds the same records; arena.* gets exactly arena's, in order.
    push = _push_records(job, lambda records: len(records) >= len(everything))
    assert sorted(json.dumps(r, sort_keys=True) for *_, r in push) == sorted(
        json.dumps(r, sort_keys=True) for r in got_records(everything)
    )
    arena_expected = [r for _, _, r in sorted(push, key=lambda x: x[:2]) if r["board"] == "arena"]
    assert arena_expected and len({p for p, _, r in push if r["board"] == "arena"}) == 1
    arena = collect(arena_queue, lambda got: len(got) >= len(arena_expected), timeout=30)
    arena += collect(arena_queue, lambda got: False, timeout=1)
    assert got_records(arena) == arena_expected
    assert all(g.routing_key.startswith("arena.") for g in arena)
    assert len({g.message_id for g in arena}) == len(arena)

    # The worker's DLQ: the future events as sent, and the events the rank stage found
    # behind the dedup horizon (too_old), as validated score events.
    old = too_old_ids(load_boards(BOARDS), now, lines)
    worker_dlq = consume_until(
        job.bootstrap, [job.dlq], lambda s: len(s[job.dlq]) >= len(future) + len(old)
    )
    by_reason: dict[str, list[Any]] = {}
    for *_, letter in worker_dlq[job.dlq]:
        by_reason.setdefault(letter["reason"], []).append(letter["raw"])
    assert sorted(raw.encode() for raw in by_reason.pop("future")) == sorted(future)
    assert sorted(json.loads(raw)["event_id"] for raw in by_reason.pop("too_old", [])) == sorted(
        old
    )
    assert not by_reason

    metrics = bridge.metrics()
    assert metrics["rankstream_bridge_messages_in_total"] == len(lines) - len(invalid)
    dead = sum(
        v for k, v in metrics.items() if k.startswith("rankstream_bridge_dead_lettered_total")
    )
    assert dead == len(invalid)
    assert metrics["rankstream_bridge_messages_out_total"] == len(push)
    assert bridge.procs[-1].poll() is None, bridge.log_tail()


def test_durable_mode_durable_snippet_and_message_id_fallback(
    job_factory: Callable[..., Job], bridge_factory: Callable[..., Bridge]
) -> None:
    job = job_factory(boards=BOARDS)
    bridge = bridge_factory(job)  # the default: durable
    all_queue = f"{job.app_id}.all"
    bind(bridge.exchange, "#", all_queue)
    job.start_worker()
    bridge.start()
    _wait_for_queue(bridge.queue)

    # The unchanged legacy declaration is refused by the durable queue: that is the trade-off.
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
        snippet(bridge.queue, [])
    assert refused.value.reply_code == 406
    # And a bridge in legacy mode against it stops at once, saying what to do.
    env = dict(
        bridge.env(), RANKSTREAM_BRIDGE_QUEUE_MODE="legacy", RANKSTREAM_BRIDGE_METRICS_PORT="0"
    )
    wrong = subprocess.run(
        [sys.executable, "-m", "streams", "bridge"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode == 2 and "delete_queue" in wrong.stderr, wrong.stderr

    now, generated = generate(300, seed=12)
    lines = [line for _, line in generated]
    snippet(bridge.queue, lines, durable=True)

    # Bodies without event_id: the AMQP message_id stands in; the same id twice counts once.
    no_id = {"board": "arena", "user": "zed", "score": 7, "ts": now - 60_000}
    body = json.dumps(no_id).encode()
    props = pika.BasicProperties(message_id="amqp-id-1", delivery_mode=2)
    publish(bridge.queue, [(body, props), (body, props)])
    reference_lines = [*lines, json.dumps({**no_id, "event_id": "amqp-id-1"}).encode()]

    expected = expected_tops(now, reference_lines)
    everything = collect(
        all_queue, lambda got: not fold_mismatches(got_records(got), expected), timeout=150
    )
    assert not fold_mismatches(got_records(everything), expected), bridge.log_tail()
    assert any(r["cause"] == "amqp-id-1" for r in got_records(everything) if "cause" in r)
    push = _push_records(job, lambda records: not fold_mismatches(records, expected))
    assert not fold_mismatches([r for *_, r in push], expected)
    assert bridge.metrics()["rankstream_bridge_messages_in_total"] == len(lines) + 2
