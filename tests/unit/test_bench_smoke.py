"""Smoke tests of the benchmark tooling in ``bench/``.

The event checks below restate contract section 1 with plain ``json`` on purpose: they must
not depend on the engine's own validation code, which they are meant to exercise.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``bench`` is not an installed package
    sys.path.insert(0, str(ROOT))

from bench import gen_events  # noqa: E402
from bench.gen_events import GenConfig  # noqa: E402

BOARD_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
MAX_SCORE = 2**53 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WELL_FORMED = {gen_events.VALID_KIND, *gen_events.SPECIAL_KINDS}


def ts_ms(value: Any) -> int:
    """Epoch ms of a contract ``ts``; raises ValueError for anything the contract rejects."""
    if isinstance(value, bool):
        raise ValueError("bool ts")
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not RFC3339_RE.match(value):
        raise ValueError(f"not RFC 3339 with offset: {value!r}")
    dt = datetime.fromisoformat(value.replace("z", "Z"))
    if dt.tzinfo is None:
        raise ValueError("naive")
    return (dt - EPOCH) // timedelta(milliseconds=1)


def contract_reason(line: bytes, now_ms: int, max_future_s: int = 600) -> str | None:
    """Why ``line`` is invalid per contract section 1, or None if it is a valid event."""
    if len(line) > 64 * 1024:
        return "too_large"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "utf8"
    try:
        obj = json.loads(text)
    except ValueError:
        return "json"
    if not isinstance(obj, dict):
        return "not_object"
    for key in ("event_id", "board", "user", "score", "ts"):
        if key not in obj:
            return f"missing_{key}"
    eid, board, user, score = obj["event_id"], obj["board"], obj["user"], obj["score"]
    if not isinstance(eid, str) or not 1 <= len(eid) <= 200:
        return "event_id"
    if not isinstance(board, str) or not BOARD_RE.match(board):
        return "board"
    if not isinstance(user, str) or not 1 <= len(user) <= 128 or CONTROL_RE.search(user):
        return "user"
    if isinstance(score, bool) or not isinstance(score, int) or abs(score) > MAX_SCORE:
        return "score"
    try:
        ms = ts_ms(obj["ts"])
    except ValueError:
        return "ts"
    if ms > now_ms + max_future_s * 1000:
        return "future"
    return None


def gen_cli(*args: str) -> bytes:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.gen_events", *args],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    )
    return proc.stdout


def test_generator_is_deterministic() -> None:
    cfg = GenConfig(events=3_000, users=500, boards=10, seed=7, mix_invalid=True)
    first = gen_events.generate(cfg)
    assert first == gen_events.generate(cfg)
    assert first != gen_events.generate(GenConfig(events=3_000, users=500, boards=10, seed=8))
    args = ["--events", "3000", "--users", "500", "--boards", "10", "--seed", "7"]
    assert gen_cli(*args, "--mix-invalid") == first
    assert gen_cli(*args, "--mix-invalid") == first


def test_generated_events_are_valid_per_contract() -> None:
    cfg = GenConfig(events=20_000, users=2_000, boards=12, seed=3)
    now_ms = cfg.effective_now_ms
    boards: set[str] = set()
    ts_forms: set[str] = set()
    negative_sum = 0
    seen: set[tuple[str, str]] = set()
    last_ts: list[int] = []
    for kind, line, ts in gen_events.iter_lines(cfg):
        assert kind == gen_events.VALID_KIND
        assert contract_reason(line, now_ms) is None, line
        obj = json.loads(line)
        key = (obj["board"], obj["event_id"])
        assert key not in seen  # no accidental duplicates without --mix-invalid
        seen.add(key)
        assert ts_ms(obj["ts"]) == ts
        boards.add(obj["board"])
        raw_ts = obj["ts"]
        if isinstance(raw_ts, int):
            ts_forms.add("epoch_ms")
        else:
            ts_forms.add("Z" if raw_ts.endswith("Z") else "offset")
        if gen_events.aggregate_of(obj["board"]) == "sum" and obj["score"] < 0:
            negative_sum += 1
        assert ts is not None
        last_ts.append(ts)
    assert boards == set(gen_events.board_names(12))
    assert {"arena", "speedrun", "likes", "b3", "b11"} <= boards
    assert ts_forms == {"epoch_ms", "Z", "offset"}
    assert negative_sum > 0
    # Mostly in order, with some jitter, over ~9 days of event time.
    backwards = sum(1 for a, b in itertools.pairwise(last_ts) if b < a)
    assert 0 < backwards < len(last_ts) * 0.3
    assert max(last_ts) - min(last_ts) > 8 * 86_400_000
    assert max(last_ts) < now_ms


def test_users_are_skewed() -> None:
    cfg = GenConfig(events=20_000, users=10_000, boards=3, seed=5)
    counts: dict[str, int] = {}
    for _, line, _ in gen_events.iter_lines(cfg):
        user = json.loads(line)["user"]
        counts[user] = counts.get(user, 0) + 1
    ranked = sorted(counts.values(), reverse=True)
    assert ranked[0] > 50 * (sum(ranked) / cfg.users)  # a heavy head ...
    assert len(ranked) > 2_000  # ... and a long tail


def test_mix_invalid_contains_every_kind() -> None:
    cfg = GenConfig(events=10_000, users=1_000, boards=10, seed=11, mix_invalid=True)
    now_ms = cfg.effective_now_ms
    lines = list(gen_events.iter_lines(cfg))
    kinds = {kind for kind, _, _ in lines}
    assert kinds == {gen_events.VALID_KIND, *gen_events.MIX_KINDS}
    earlier: set[bytes] = set()
    watermark: dict[str, int] = {}
    for kind, line, ts in lines:
        reason = contract_reason(line, now_ms)
        if kind == "blank":
            assert line == b""
        elif kind in WELL_FORMED:
            assert reason is None, (kind, line)
        else:
            assert reason is not None, (kind, line)
        if kind == "duplicate":
            assert line in earlier  # the exact bytes of an earlier event
        if kind in ("late", "very_late"):
            board = json.loads(line)["board"]
            assert ts is not None
            behind = watermark[board] - ts
            low, high = (1, 3) if kind == "late" else (8, 20)
            assert low * 86_400_000 <= behind <= high * 86_400_000
        if kind == gen_events.VALID_KIND:
            board = json.loads(line)["board"]
            assert ts is not None
            watermark[board] = max(watermark.get(board, ts), ts)
        earlier.add(line)
    by_kind = {kind: line for kind, line, _ in lines}
    assert by_kind["text"] == b"User Score Update"
    assert contract_reason(by_kind["future"], now_ms) == "future"
    assert contract_reason(by_kind["naive_ts"], now_ms) == "ts"
    assert contract_reason(by_kind["invalid_utf8"], now_ms) == "utf8"
    assert contract_reason(by_kind["bool_score"], now_ms) == "score"
    assert contract_reason(by_kind["float_score"], now_ms) == "score"
    assert contract_reason(by_kind["missing_field"], now_ms).startswith("missing_")  # type: ignore[union-attr]


def test_boards_toml_matches_specs() -> None:
    path = ROOT / "bench" / "boards.toml"
    text = path.read_text(encoding="utf-8")
    assert text == gen_events.render_boards_toml()
    config = tomllib.loads(text)
    assert config["max_future_seconds"] == 600
    assert config["defaults"] == {
        "aggregate": "sum",
        "order": "desc",
        "windows": ["daily", "weekly", "all"],
        "top": 100,
        "timezone": "UTC",
        "week_start": "monday",
        "grace_seconds": 300,
        "retain": 8,
    }
    boards = config["boards"]
    assert list(boards) == gen_events.board_names(10)
    merged = [{**config["defaults"], **b} for b in boards.values()]
    assert {b["aggregate"] for b in merged} == {"sum", "max", "min", "last"}
    assert {b["order"] for b in merged} == {"asc", "desc"}
    assert {b["timezone"] for b in merged} >= {
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Asia/Tokyo",
    }
    assert len({b["week_start"] for b in merged}) >= 3
    assert {w for b in merged for w in b["windows"]} == {"daily", "weekly", "all"}
    assert all(10 <= b["top"] <= 100 for b in merged)
    assert min(b["top"] for b in merged) == 10 and max(b["top"] for b in merged) == 100


def test_engine_bench_quick(tmp_path: Path) -> None:
    out = tmp_path / "engine.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.engine_bench",
            "--quick",
            "--json-out",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "rankstream replay" in proc.stdout
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["params"]["events"] == 2_000
    assert result["machine"]["cores"] >= 1
    for key in ("floor_inproc", "floor_subprocess", "replay_startup", "replay"):
        assert result["timings"][key]["seconds"] > 0
    assert result["timings"]["replay"]["events_per_s"] > 0
    assert result["ratios"]["replay_vs_floor"] > 0
    assert result["replay_output"]["output_records"] > 0
    assert result["replay_output"]["dead_letters"] == 0


def test_engine_bench_profile(tmp_path: Path) -> None:
    out = tmp_path / "engine.json"
    args = ["--quick", "--events", "300", "--profile", "--profile-top", "5"]
    args += ["--json-out", str(out), "--workdir", str(tmp_path / "work")]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.engine_bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "top 5 by cumulative" in proc.stdout and "top 5 by tottime" in proc.stdout
    result = json.loads(out.read_text(encoding="utf-8"))
    assert len(result["profile"]["top_by_tottime"]) == 5
    assert (tmp_path / "work" / "replay.prof").exists()


@pytest.mark.parametrize("bad", [["--events", "0"], ["--repeat", "0"]])
def test_engine_bench_rejects_bad_sizes(bad: list[str], tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.engine_bench", "--quick", *bad, "--workdir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2


# --- make bench: the Redis comparison's change detection, the report, the profile summary


def _redis_segment(
    members: dict[str, float], user: str, delta: float, k: int
) -> tuple[list[Any], list[tuple[str, float]], list[tuple[str, float]]]:
    """What bench/redis_rank.py's Lua script returns for ZINCRBY, computed on a dict with
    Redis's order (score desc, then member desc), plus the top K before and after."""

    def order(m: dict[str, float]) -> list[tuple[str, float]]:
        return sorted(m.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)

    before = order(members)
    old = next((i for i, (name, _) in enumerate(before) if name == user), None)
    members[user] = members.get(user, 0) + delta
    after = order(members)
    new = next(i for i, (name, _) in enumerate(after) if name == user)
    o = old if old is not None else 1 << 62
    if (o >= k and new >= k) or (old is not None and delta == 0):
        return [0], before[:k], after[:k]
    lo, hi = new, new
    if new < o:
        hi = min(o, k)
    elif new > o:
        lo, hi = o, min(new, k - 1)
    flat: list[Any] = []
    for name, score in after[lo : hi + 1]:
        flat += [name.encode(), str(score).encode()]
    moved = [-1 if old is None else old, new, lo, str(members[user]).encode(), flat]
    return moved, before[:k], after[:k]


def _diff(
    before: list[tuple[str, float]], after: list[tuple[str, float]], scores: dict[str, float]
) -> set[tuple[Any, ...]]:
    """Contract section 3: every user whose rank or score in the top K changed, with the
    score after the event (also for one who left the top K)."""
    old = {name: (rank + 1, score) for rank, (name, score) in enumerate(before)}
    new = {name: (rank + 1, score) for rank, (name, score) in enumerate(after)}
    changes = set()
    for name in old.keys() | new.keys():
        if old.get(name) != new.get(name):
            o, n = old.get(name), new.get(name)
            changes.add((name, o and o[0], n and n[0], int(scores[name])))
    return changes


@pytest.mark.parametrize("seed", range(40))
def test_redis_segment_changes_equal_a_full_top_k_diff(seed: int) -> None:
    """The segment-based change detection of the Redis comparison emits exactly the
    changes a full before/after diff of the top K finds (else the comparison would be
    unfair in either direction)."""
    import random

    from bench.redis_rank import Ranker

    rng = random.Random(seed)
    k = rng.choice([1, 3, 5])
    members: dict[str, float] = {}
    ranker = Ranker.__new__(Ranker)
    ranker.top = k
    for _ in range(60):
        user = f"u{rng.randrange(12)}"
        delta = rng.choice([-50, -5, 0, 1, 7, 30, 100])
        moved, before, after = _redis_segment(members, user, delta, k)
        expected = _diff(before, after, members)
        got: set[tuple[Any, ...]] = set()
        if moved != [0]:
            for line in ranker.changes('{"t":1', user.encode(), moved, '"c"'):
                rec = json.loads(line)
                got.add((rec["user"], rec["old_rank"], rec["new_rank"], rec["score"]))
        # A user whose score changed without a rank change within the top K is a change too;
        # a zero delta inside the top K is reported by both or neither.
        assert got == expected, (user, delta, before, after)


def _write(path: Path, obj: dict[str, Any]) -> None:
    path.write_text(json.dumps(obj), encoding="utf-8")


def test_report_says_not_run_for_missing_legs_and_checks_targets(tmp_path: Path) -> None:
    from bench import report

    _write(
        tmp_path / "e2e.json",
        {
            "machine": {"cores": 2, "memory_bytes": 2**34, "python": "3.11", "cpu": "x"},
            "params": {"guarantee": "at_least_once"},
            "passthrough": {"events_per_s": 10_000, "sustained_events_per_s": 12_000},
            "worker": {"events_per_s": 5_000, "sustained_events_per_s": 6_000},
            "ratios": {"worker_vs_passthrough_overall": 0.5, "worker_vs_redis_overall": 0.9},
            "latency": [
                {
                    "load": 0.5,
                    "achieved_events_per_s": 3000,
                    "samples": 9,
                    "p50_ms": 10,
                    "p95_ms": 30,
                    "p99_ms": 60,
                }
            ],
        },
    )
    _write(tmp_path / "query.json", {"rank": {"p50_ms": 0.5, "p99_ms": 2.0}})
    legs = report.load(tmp_path)
    assert set(legs) == {"e2e", "query"}
    text = report.table(legs)
    assert "not run" in text  # engine, state, bridge
    by_name = {t["target"]: t for t in report.targets(legs)}
    assert by_name["end to end >= 50% of raw passthrough (overall)"]["met"] is True
    assert by_name[">= 10,000 events/s per worker"]["met"] is False
    assert by_name["worker end to end faster than Redis (same events)"]["met"] is False
    assert by_name["p99 <= 100 ms at 50% load"]["met"] is True
    assert by_name["exact-rank p99 <= 5 ms (1M users)"]["met"] is True
    assert by_name["cold recovery >= 100,000 keys/s"]["met"] is None
    assert report.main(["--results", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["legs"]["engine"] == "not run" and summary["legs"]["e2e"] == "run"
    assert (tmp_path / "bench.png").stat().st_size > 1000


def test_report_shows_the_faust_and_output_volume_ceilings_when_measured(tmp_path: Path) -> None:
    from bench import report

    e2e: dict[str, Any] = {
        "params": {"guarantee": "exactly_once"},
        "passthrough": {"events_per_s": 16_000, "sustained_events_per_s": 24_000},
        "worker": {"events_per_s": 1_400, "sustained_events_per_s": 1_900},
        "ratios": {"worker_vs_passthrough_sustained": 0.079},
    }
    _write(tmp_path / "e2e.json", e2e)
    older = report.table(report.load(tmp_path))
    assert "writing" not in older and "faust" not in older  # older results: no such rows
    e2e["output_ceiling"] = {
        "fanout": 6,
        "changelog_records": 5,
        "events_per_s": 9_790,
        "sustained_events_per_s": 11_271,
    }
    e2e["faust_passthrough"] = {"events_per_s": 2_078, "sustained_events_per_s": 3_135}
    _write(tmp_path / "e2e.json", e2e)
    text = report.table(report.load(tmp_path))
    [faust] = [x for x in text.splitlines() if "faust agents" in x]
    assert faust.split()[-4:] == ["2,078", "overall", "3,135", "sustained"]
    [row] = [x for x in text.splitlines() if "writing" in x]
    assert row.split() == [
        "raw,",
        "writing",
        "11/event",
        "9,790",
        "overall",
        "11,271",
        "sustained",
    ]


def test_profile_summary_shares(tmp_path: Path) -> None:
    from bench.profile_summary import summarise

    raw = tmp_path / "p.txt"
    raw.write_text("main;a;b 3\nmain;a 1\nmain;c 4\n", encoding="utf-8")
    s = summarise(raw, top=3)
    assert s["samples"] == 8
    own = {r["function"]: r["share"] for r in s["top_own"]}
    inclusive = {r["function"]: r["share"] for r in s["top_inclusive"]}
    assert own["c"] == 0.5 and own["b"] == 0.375
    assert inclusive["main"] == 1.0 and inclusive["a"] == 0.5


def test_profile_summary_components(tmp_path: Path) -> None:
    from bench.profile_summary import summarise

    raw = tmp_path / "p.txt"
    raw.write_text(
        "run (streams/runtime/app.py:1);apply (streams/engine/core.py:9);"
        "get (streams/runtime/state/x.py:2) 2\n"
        "run (streams/runtime/app.py:1);apply (streams/engine/core.py:9) 1\n"
        "_run (asyncio/events.py:3);send (aiokafka/producer.py:4) 1\n",
        encoding="utf-8",
    )
    s = summarise(raw)
    assert s["engine_inclusive"] == 0.75
    assert s["by_component"] == {
        "state store (streams/state, rocksdict)": 0.5,
        "engine (streams/engine)": 0.25,
        "aiokafka (I/O, framing)": 0.25,
    }


def test_stages_time_each_stage_of_replay_on_the_same_input() -> None:
    from bench.stages import measure

    result = measure(GenConfig(events=600, users=100, boards=10))
    stages = result["us_per_event"]
    assert result["events"] == result["valid"] == 600  # no invalid lines mixed in
    assert result["records_per_event"] > 0
    assert all(stages[k] > 0 for k in ("json_loads_floor", "decode_and_validate", "engine"))
    parts = stages["decode_and_validate"] + stages["engine_replay"] + stages["format_records"]
    assert stages["total_without_io"] == pytest.approx(parts, abs=0.05)


def test_the_state_leg_reads_the_restore_from_the_worker_log() -> None:
    from bench.state_bench import restore_from_log

    log = (
        "[2026-11-27 10:47:01,100] [1] [INFO] restored bench-x-state-log[0]: 0 ...\n"
        "[2026-11-27 10:47:01,200] [1] [INFO] restored bench-x-state-log[1]: "
        "120000 changelog records in 0.80s\n"
        "[2026-11-27 10:47:01,300] [1] [INFO] restored bench-x-state-log[3]: "
        "60000 changelog records in 1.20s\n"
    )
    assert restore_from_log(log) == {
        "restore_records": 180_000,
        "restore_s": 1.2,  # side by side: the slowest partition
        "restore_records_per_s": 150_000,
    }
    assert restore_from_log("no restore logged") == {}


def test_engine_memory_leg_reports_rss_as_users_grow_with_state_on_disk(tmp_path: Path) -> None:
    from bench import engine_memory

    out = tmp_path / "memory.json"
    args = ["--users", "1000", "--every", "400", "--batch", "64", "--block-cache-mb", "8"]
    assert engine_memory.main([*args, "--json-out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [row["users"] for row in result["rows"]] == [400, 800, 1000]
    assert all(0 < row["rss_mib"] <= row["peak_rss_mib"] for row in result["rows"])
    assert result["settings"]["block_cache_mb"] == 8
    for row in result["rows"]:  # RocksDB's own share, beside the RSS
        parts = row["memtables_mib"] + row["table_readers_mib"] + row["block_cache_mib"]
        assert row["rocksdb_mib"] == pytest.approx(parts, abs=0.2)
    assert result["rows"][-1]["memtables_mib"] > 0
    # every user has a state and an index entry, and every event a dedup id, on disk
    assert result["rocksdb_keys"] >= 3 * 1000


def test_the_state_leg_can_spread_the_same_events_over_fewer_users() -> None:
    from bench.state_bench import unique_user_events

    every = [json.loads(line) for line in unique_user_events(6, 1_000_000)]
    few = [json.loads(line) for line in unique_user_events(6, 1_000_000, distinct=2)]
    assert len({e["user"] for e in every}) == 6
    assert [e["user"] for e in few] == ["user-00000000", "user-00000001"] * 3
    # only the users differ: same ids, scores and times, so the state writes match
    strip = [{k: v for k, v in e.items() if k != "user"} for e in every]
    assert strip == [{k: v for k, v in e.items() if k != "user"} for e in few]
