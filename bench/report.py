"""Aggregate the legs of ``make bench`` into one table, ``summary.json`` and a PNG chart.

    python -m bench.report [--results bench/results] [--png bench/results/bench.png]

Reads whichever of ``engine.json`` (legs 1 and 4), ``e2e.json`` (2, 3), ``state.json``
(5, 6), ``query.json`` (7) and ``bridge.json`` exist; a missing leg or figure is shown as
"not run", never guessed. Each target of issue E is checked against the measured figure
and marked met / MISSED / not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
LEGS = ("engine", "e2e", "state", "query", "bridge")
NOT_RUN = "not run"


def load(results: Path) -> dict[str, dict[str, Any]]:
    legs = {}
    for name in LEGS:
        path = results / f"{name}.json"
        if path.exists():
            legs[name] = json.loads(path.read_text(encoding="utf-8"))
    return legs


def dig(obj: Any, *path: str | int) -> Any:
    for key in path:
        in_dict = isinstance(obj, dict) and key in obj
        in_list = isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj)
        if in_dict or in_list:
            obj = obj[key]
        else:
            return None
    return obj


def percentile_rows(obj: Any, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every dict holding a ``p99_ms`` (query kinds, bridge latencies, ...), by path."""
    if isinstance(obj, dict):
        if "p99_ms" in obj:
            yield prefix or "(top)", obj
        for key, value in obj.items():
            if key not in ("machine", "settings", "params"):
                yield from percentile_rows(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(obj, list):
        for n, value in enumerate(obj):
            yield from percentile_rows(value, f"{prefix}[{n}]")


def rate_rows(obj: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every ``*_per_s`` number (for legs whose layout this file does not know)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key.endswith("_per_s") and isinstance(value, int | float):
                yield path, value
            elif key not in ("machine", "settings", "params", "committed_samples"):
                yield from rate_rows(value, path)


def sweep_row(legs: dict[str, Any], users: int) -> dict[str, Any] | None:
    rows = dig(legs, "engine", "sweep") or []
    return next((r for r in rows if r["users"] == users), None)


def targets(legs: dict[str, Any]) -> list[dict[str, Any]]:
    """(target, measured, met) for each target of issues E and H."""
    e2e, state = legs.get("e2e"), legs.get("state")
    # Overall: the passthrough's run is too short for a stable "sustained" figure.
    ratio = dig(e2e, "ratios", "worker_vs_passthrough_overall")
    worker = dig(e2e, "worker", "sustained_events_per_s") or dig(e2e, "worker", "events_per_s")
    redis_ratios = [r.get("ratio_ours_vs_redis") for r in dig(legs, "engine", "sweep") or []]
    redis_ratios = [r for r in redis_ratios if r is not None]
    latency50 = next((r for r in dig(e2e, "latency") or [] if abs(r["load"] - 0.5) < 1e-9), None)
    restore_rate = dig(state, "extrapolated", "restore_keys_per_s")
    cold_rate = restore_rate or dig(state, "extrapolated", "cold_keys_per_s")
    cold_how = "restore, from the worker's log" if restore_rate else "marginal"
    rss = dig(state, "extrapolated", "rss_mib_at_1m_users_per_window")
    rank = next((row for path, row in percentile_rows(legs.get("query")) if path == "rank"), None)

    def row(name: str, value: Any, shown: str, met: bool | None) -> dict[str, Any]:
        return {
            "target": name,
            "measured": value,
            "shown": shown if value is not None else NOT_RUN,
            "met": None if value is None else met,
        }

    # Same events, same run (e2e_bench --redis-port); else the engine sweep's 10k row.
    worker_vs_redis = dig(e2e, "ratios", "worker_vs_redis_overall")
    ten_k = sweep_row(legs, 10_000)
    if worker_vs_redis is None and worker and ten_k and "redis" in ten_k:
        worker_vs_redis = round(worker / ten_k["redis"]["events_per_s"], 3)
    return [
        row(
            "end to end >= 50% of raw passthrough (overall)",
            ratio,
            f"{ratio:.1%}" if ratio else "",
            bool(ratio and ratio >= 0.5),
        ),
        row(
            ">= 10,000 events/s per worker",
            worker,
            f"{worker:,.0f} events/s" if worker else "",
            bool(worker and worker >= 10_000),
        ),
        row(
            "engine faster than Redis (same input, all sizes)",
            min(redis_ratios) if redis_ratios else None,
            f"{min(redis_ratios):.2f}x .. {max(redis_ratios):.2f}x" if redis_ratios else "",
            bool(redis_ratios and min(redis_ratios) > 1),
        ),
        row(
            "worker end to end faster than Redis (same events)",
            worker_vs_redis,
            f"{worker_vs_redis:.2f}x" if worker_vs_redis else "",
            bool(worker_vs_redis and worker_vs_redis > 1),
        ),
        row(
            "p99 <= 100 ms at 50% load",
            dig(latency50, "p99_ms"),
            f"{dig(latency50, 'p99_ms')} ms",
            bool((dig(latency50, "p99_ms") or 1e9) <= 100),
        ),
        row(
            "cold recovery >= 100,000 keys/s",
            cold_rate,
            f"{cold_rate:,} keys/s ({cold_how})" if cold_rate else "",
            bool(cold_rate and cold_rate >= 100_000),
        ),
        row(
            "<= 250 MB RSS per 1M users per window (extrapolated)",
            rss,
            f"{rss:,.0f} MiB" if rss else "",
            bool(rss is not None and rss * 1.048576 <= 250),
        ),
        row(
            "exact-rank p99 <= 5 ms (1M users)",
            dig(rank, "p99_ms"),
            f"{dig(rank, 'p99_ms')} ms",
            bool((dig(rank, "p99_ms") or 1e9) <= 5),
        ),
    ]


def fmt(value: Any, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def table(legs: dict[str, Any]) -> str:
    out: list[str] = []
    machine = next((leg["machine"] for leg in legs.values() if "machine" in leg), None)
    if machine:
        mem = machine.get("memory_bytes") or 0
        out.append(
            f"machine: {machine.get('cores')} cores, {mem / 2**30:.1f} GiB, Python "
            f"{machine.get('python')}, {machine.get('cpu')}"
        )
    out.append("\n1. engine: rankstream replay vs json.loads floor (contract [defaults] boards)")
    sweep = dig(legs, "engine", "sweep")
    if sweep:
        out.append(
            f"{'users':>10}{'distinct':>10}{'events/s':>10}{'us/event':>10}"
            f"{'floor/s':>10}{'x floor':>8}{'Redis/s':>10}{'ours/Redis':>11}"
        )
        for r in sweep:
            redis = r.get("redis", {})
            out.append(
                f"{r['users']:>10,}{fmt(r.get('distinct_users')):>10}{fmt(r['events_per_s']):>10}"
                f"{fmt(r['us_per_event'], ',.1f'):>10}{fmt(dig(r, 'floor', 'events_per_s')):>10}"
                f"{fmt(r.get('ratio_vs_floor'), '.1f'):>8}{fmt(redis.get('events_per_s')):>10}"
                f"{fmt(r.get('ratio_ours_vs_redis'), '.2f'):>11}"
            )
    else:
        out.append(f"  {NOT_RUN}")
    e2e = legs.get("e2e")
    out.append("\n2. end to end, one worker (events/s through both agents, committed)")
    if e2e:
        for key, label in (("passthrough", "raw aiokafka passthrough"), ("worker", "worker")):
            r = e2e[key]
            out.append(
                f"  {label:<26}{fmt(r['events_per_s']):>10} overall "
                f"{fmt(r['sustained_events_per_s']):>10} sustained"
            )
        faust = e2e.get("faust_passthrough")  # absent from results before 2026-11-27 23:00
        if faust:
            out.append(
                f"  {'faust agents, no work':<26}{fmt(faust['events_per_s']):>10} overall "
                f"{fmt(faust['sustained_events_per_s']):>10} sustained"
            )
        ceiling = e2e.get("output_ceiling")  # likewise
        if ceiling:
            label = f"raw, writing {ceiling['fanout'] + ceiling['changelog_records']}/event"
            out.append(
                f"  {label:<26}{fmt(ceiling['events_per_s']):>10} overall "
                f"{fmt(ceiling['sustained_events_per_s']):>10} sustained"
            )
        ratio = dig(e2e, "ratios", "worker_vs_passthrough_sustained")
        out.append(
            f"  worker / passthrough: {fmt(ratio, '.1%')} sustained; "
            f"guarantee {e2e['params']['guarantee']}"
        )
        out.append("\n3. latency: event produced -> its rank_change consumed")
        for r in e2e.get("latency", []):
            out.append(
                f"  {r['load']:>4.0%} load ({fmt(r['achieved_events_per_s'])} ev/s): p50 "
                f"{fmt(r.get('p50_ms'), '.0f')} ms, p95 {fmt(r.get('p95_ms'), '.0f')} ms, p99 "
                f"{fmt(r.get('p99_ms'), '.0f')} ms ({r['samples']} samples)"
            )
    else:
        out.append(f"  {NOT_RUN}\n\n3. latency\n  {NOT_RUN}")
    state = legs.get("state")
    out.append("\n5./6. recovery and memory (one board, one window, distinct users)")
    if state:
        for r in state["sizes"]:
            out.append(
                f"  {r['users']:>8,} users: peak RSS {r['peak_rss_kib'] / 1024:,.0f} MiB, "
                f"{r['table_keys']:,} keys; warm restart {r['warm_restart_s']} s, cold "
                f"{r['cold_restart_s']} s -> {fmt(r.get('cold_keys_per_s_gross'))} keys/s; "
                f"restore {fmt(r.get('restore_records'))} records in {r.get('restore_s', '-')} s "
                f"= {fmt(r.get('restore_keys_per_s'))} keys/s"
            )
        x = state["extrapolated"]
        out.append(
            f"  extrapolated (linear from {x['measured_users']} users): "
            f"{fmt(x.get('rss_mib_at_1m_users_per_window'))} MiB at 1M users/window; "
            f"cold {fmt(x.get('cold_seconds_per_1m_keys'), ',.1f')} s per 1M keys "
            f"({fmt(x.get('cold_keys_per_s'))} keys/s marginal); warm restart "
            f"{fmt(x.get('warm_seconds_per_1m_keys_marginal'), ',.1f')} s per 1M keys"
        )
        flat = state.get("flat")
        if flat:
            q = ", ".join(fmt(v / 1024 if v else None) for v in flat["rss_max_kib_per_quarter"])
            out.append(
                f"  flat run: {flat['events']:,} events over {flat['event_days']} days; "
                f"max RSS per quarter {q} MiB (Q4/Q2 {flat['growth_q2_to_q4']})"
            )
    else:
        out.append(f"  {NOT_RUN}")
    out.append("\n7. queries (ms)")
    rows = list(percentile_rows(legs.get("query")))
    out += [
        f"  {path:<28} p50 {r.get('p50_ms')}  p95 {r.get('p95_ms')}  p99 {r['p99_ms']}"
        for path, r in rows
    ] or [f"  {NOT_RUN}"]
    out.append("\nbridge")
    bridge = legs.get("bridge")
    rates = list(rate_rows(bridge)) + [(p, r["p99_ms"]) for p, r in percentile_rows(bridge)]
    out += [f"  {path}: {value:,}" for path, value in rates] or [f"  {NOT_RUN}"]
    out.append("\ntargets")
    for t in targets(legs):
        mark = NOT_RUN if t["met"] is None else ("met" if t["met"] else "MISSED")
        out.append(f"  [{mark:^7}] {t['target']}: {t['shown']}")
    return "\n".join(out)


def chart(legs: dict[str, Any], png: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(20, 6))
    bars: list[tuple[str, float, str]] = []
    for r in dig(legs, "engine", "sweep") or []:
        k = f"{r['users'] // 1000}k" if r["users"] < 1_000_000 else f"{r['users'] // 1_000_000}M"
        bars.append((f"json.loads\n{k}", dig(r, "floor", "events_per_s") or 0, "#bbbbbb"))
        bars.append((f"replay\n{k}", r["events_per_s"] or 0, "#1f77b4"))
        if "redis" in r:
            bars.append((f"Redis\n{k}", r["redis"]["events_per_s"] or 0, "#d62728"))
    e2e = legs.get("e2e")
    if e2e:
        bars.append(("passthrough\n(Kafka)", e2e["passthrough"]["events_per_s"], "#999999"))
        if "faust_passthrough" in e2e:
            faust = e2e["faust_passthrough"]
            rate = faust["sustained_events_per_s"] or faust["events_per_s"]
            bars.append(("faust, no\nwork (Kafka)", rate, "#bbbbbb"))
        bars.append(
            (
                "worker\n(Kafka)",
                e2e["worker"]["sustained_events_per_s"] or e2e["worker"]["events_per_s"],
                "#2ca02c",
            )
        )
    ax = axes[0]
    if bars:
        ax.bar(range(len(bars)), [b[1] for b in bars], color=[b[2] for b in bars])
        ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=7, rotation=60)
        ax.set_yscale("log")
    ax.set_ylabel("events/s (log)")
    ax.set_title("throughput (users = population of the generator)")
    ax = axes[1]
    rows = dig(e2e, "latency") or []
    for n, (key, color) in enumerate(
        (("p50_ms", "#9ecae1"), ("p95_ms", "#4292c6"), ("p99_ms", "#08519c"))
    ):
        xs = [i + (n - 1) * 0.27 for i in range(len(rows))]
        ax.bar(xs, [r.get(key) or 0 for r in rows], width=0.27, color=color, label=key[:3])
    ax.set_xticks(
        range(len(rows)), [f"{r['load']:.0%}\n{r['achieved_events_per_s']:,.0f}/s" for r in rows]
    )
    ax.axhline(50, color="red", linestyle="--", linewidth=1, label="target p99 at 50%")
    ax.set_yscale("log")
    ax.set_ylabel("ms (log), event produced -> rank_change consumed")
    ax.set_title("latency by load (fraction of the measured max)")
    ax.legend(fontsize=8)
    ax = axes[2]
    flat = dig(legs, "state", "flat")
    if flat:
        done = [s[0] / flat["events"] * flat["event_days"] for s in flat["samples"]]
        ax.plot(done, [s[1] / 1024 for s in flat["samples"]], color="#9467bd")
        ax.set_xlabel("days of event time processed")
        ax.set_ylim(bottom=0)
    ax.set_ylabel("worker RSS, MiB")
    ax.set_title("memory across window rollovers")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return True


def summary(legs: dict[str, Any]) -> dict[str, Any]:
    return {
        "machine": next((leg["machine"] for leg in legs.values() if "machine" in leg), None),
        "legs": {name: ("run" if name in legs else NOT_RUN) for name in LEGS},
        "settings": {name: legs[name].get("settings") for name in legs if "settings" in legs[name]},
        "params": {name: legs[name].get("params") for name in legs if "params" in legs[name]},
        "targets": targets(legs),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--png", type=Path, default=None, help="default: <results>/bench.png")
    p.add_argument("--no-png", action="store_true")
    args = p.parse_args(argv)
    legs = load(args.results)
    print(table(legs))
    out = args.results / "summary.json"
    out.write_text(json.dumps(summary(legs), indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")
    if not args.no_png:
        png = args.png or args.results / "bench.png"
        chart(legs, png)
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
