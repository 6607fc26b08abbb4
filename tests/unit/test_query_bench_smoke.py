"""`python -m bench.query_bench --users 2000` runs end to end (it checks sampled ranks
against a full sort itself) and writes its JSON report; no timing is asserted."""

from __future__ import annotations

import json
from pathlib import Path

from bench import query_bench


def test_query_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "query.json"
    assert query_bench.main(["--users", "2000", "--queries", "50", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["users"] == 2000 and report["checked_ranks"] == 1000
    for name in ("rank", "rank_around_5", "page_100_random_offset", "top_100"):
        assert report[name]["queries"] == 50
        assert 0 < report[name]["p50_ms"] <= report[name]["p99_ms"] <= report[name]["max_ms"]
