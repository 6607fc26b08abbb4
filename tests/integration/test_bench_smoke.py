"""Smoke runs of the `make bench` legs that need the broker or Redis: tiny sizes, seconds
each. They check that each leg measures what it says and cleans up its topics, not the
figures (no timed assertions)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

ROOT = Path(__file__).resolve().parents[2]


def run_bench(module: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{module} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


async def _topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


def leftover_topics(bootstrap: str, prefix: str) -> list[str]:
    return [t for t in asyncio.run(_topics(bootstrap)) if t.startswith(prefix)]


@pytest.mark.parametrize("split", [False, True], ids=["one-process", "intake-process"])
def test_e2e_bench_quick(kafka: str, tmp_path: Path, split: bool) -> None:
    out = tmp_path / "e2e.json"
    extra = ["--intake-process"] if split else []
    run_bench("bench.e2e_bench", "--quick", "--bootstrap", kafka, "--json-out", str(out), *extra)
    result: dict[str, Any] = json.loads(out.read_text())
    # With --intake-process the worker validates nothing: a second process must have.
    assert result["params"]["intake_process"] is split
    assert (result["settings"]["worker"].get("run_intake") == "false") is split
    events = result["params"]["events"]
    assert events > 0
    # The raw passthrough runs on the same lines, repeated (a run long enough to time).
    repeat = result["params"]["passthrough_repeat"]
    assert repeat > 1
    for leg, sent in (("passthrough", events * repeat), ("worker", events)):
        assert result[leg]["events"] == sent
        assert result[leg]["events_per_s"] > 0
        assert result[leg]["committed_samples"][-1][1] >= sent
    # The passthrough re-sends each event once per hop; the worker writes rank changes.
    assert result["passthrough"]["output_records_consumed"] == events * repeat
    assert result["worker"]["output_records_consumed"] > 0
    # faust's two agents with no work in them, fed and timed as the worker is
    assert result["faust_passthrough"]["committed_samples"][-1][1] >= events
    assert result["faust_passthrough"]["output_records_consumed"] == events
    assert result["faust_passthrough"]["cpu_utilisation"] > 0
    # The output-volume ceiling writes what the worker wrote per event, with none of its work.
    ceiling, worker = result["output_ceiling"], result["worker"]
    assert ceiling["fanout"] == max(1, round(worker["push_records_per_event"])) > 1
    assert ceiling["changelog_records"] == round(worker["state_log_records_per_event"]) > 0
    assert ceiling["committed_samples"][-1][1] >= events
    assert ceiling["output_records_consumed"] == events * ceiling["fanout"]
    assert result["settings"]["worker"]["processing_guarantee"] == "exactly_once"
    [row] = result["latency"]
    assert row["samples"] > 0 and row["p50_ms"] <= row["p99_ms"]
    assert leftover_topics(kafka, result["params"]["run_id"]) == []


def test_state_bench_quick(kafka: str, tmp_path: Path) -> None:
    out = tmp_path / "state.json"
    run_bench("bench.state_bench", "--quick", "--bootstrap", kafka, "--json-out", str(out))
    result: dict[str, Any] = json.loads(out.read_text())
    small, large = result["sizes"]
    assert large["users"] == 2 * small["users"]
    # One window, one user per event: the key count follows the users.
    assert large["table_keys"] > 1.5 * small["table_keys"] > 0
    for row in (small, large):
        assert row["peak_rss_kib"] > 0
        # RocksDB's share of it, read from the loaded worker's /metrics
        assert set(row["rocksdb_kib"]) == {"memtables", "table_readers", "block_cache"}
        assert 0 < row["rocksdb_kib"]["memtables"] < row["peak_rss_kib"]
        assert row["warm_restart_s"] > 0
        assert row["cold_restart_s"] > 0
        # The cold restart rebuilt every key from the changelog (plus the probes').
        assert row["table_keys_after_cold"] >= row["table_keys"]
    assert result["flat"]["samples"]
    assert result["extrapolated"]["measured_users"] == [small["users"], large["users"]]


def test_redis_comparison_quick(tmp_path: Path) -> None:
    """Leg 4 starts its own Redis (deploy/redis/up.sh) and does the same work as replay:
    about as many rank changes from the same input."""
    out = tmp_path / "engine.json"
    args = ["--quick", "--sweep", "--sweep-users", "500", "--redis-port", "6390"]
    run_bench("bench.engine_bench", *args, "--json-out", str(out), "--workdir", str(tmp_path))
    [row] = json.loads(out.read_text())["sweep"]
    ours, theirs = row["output_records"], row["redis"]["output_records"]
    assert theirs > 0 and abs(ours - theirs) <= 0.05 * ours, (ours, theirs)
    assert row["redis"]["client_summary"]["applied"] == row["events"]
    assert row["ratio_ours_vs_redis"] > 0
    assert row["floor"]["events_per_s"] > 0
