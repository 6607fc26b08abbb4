"""deploy/monitoring: every alert rule and dashboard query parses as PromQL, and every
metric they use is one the code exports (found in its source and checked against a real
render of the worker's and the bridge's /metrics), or comes from a named standard exporter.
Every rankstream metric family appears on the dashboard."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.apps.api.metrics import metrics_text
from streams.apps.bridge.metrics import BridgeMetrics
from streams.runtime.ranker import Counts

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
ALERTS = MONITORING / "alerts.yaml"
DASHBOARD = MONITORING / "grafana-dashboard.json"

#: Metrics of standard exporters that the rules and the dashboard may use besides ours.
EXTERNAL = {
    "up": "Prometheus itself",
    "container_memory_working_set_bytes": "cAdvisor (kubelet)",
    "kube_pod_container_resource_limits": "kube-state-metrics",
    "kube_pod_container_status_restarts_total": "kube-state-metrics",
    "kafka_consumergroup_lag": "a Kafka exporter (consumer-group lag per partition)",
}
#: Constructor -> suffixes of the sample names it exports.
_KINDS = {
    "CounterMetricFamily": ("_total",),
    "GaugeMetricFamily": ("",),
    "HistogramMetricFamily": ("_bucket", "_count", "_sum"),
    "Counter": ("_total", "_created"),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_count", "_sum", "_created"),
    "Summary": ("_count", "_sum", "_created"),
}
#: Grafana variables, replaced by something PromQL accepts before parsing.
_GRAFANA_VARS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$namespace": "ns",
    "$app_id": "rankstream",
}


def families_in_source() -> dict[str, tuple[str, ...]]:
    """Metric family name -> exported sample suffixes, from every metric constructor call
    with a literal name in streams/."""
    found: dict[str, tuple[str, ...]] = {}
    for path in sorted((ROOT / "streams").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name in _KINDS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found[first.value] = _KINDS[name]
    return found


@pytest.fixture(scope="module")
def exported() -> set[str]:
    families = families_in_source()
    assert "rankstream_ready" in families and "rankstream_bridge_messages_in" in families
    return {family + suffix for family, suffixes in families.items() for suffix in suffixes}


def rendered_samples(text: str) -> set[str]:
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_source_scan_covers_what_the_worker_and_bridge_really_render(
    exported: set[str],
) -> None:
    counts = Counts()
    counts.add("applied", 3)
    counts.last_event_ts = 0
    body, _ = metrics_text(counts, True, 2, 1_000, {"block_cache": 1, "memtables": 2})
    bridge = BridgeMetrics()
    bridge.dead_lettered.labels(reason="bad_json").inc()
    bridge.retries.labels(path="in", waiting_for="rabbitmq").inc()
    worker_samples = rendered_samples(body.decode())
    bridge_samples = rendered_samples(generate_latest(bridge.registry).decode())
    assert {"rankstream_events_total", "rankstream_processing_lag_seconds"} <= worker_samples
    assert worker_samples | bridge_samples <= exported


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def alert_rules() -> Iterator[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    for group in doc["groups"]:
        assert group["name"] and group["rules"]
        yield from group["rules"]


def dashboard_queries() -> Iterator[tuple[str, str]]:
    """(panel title, query with Grafana's variables substituted) of every panel target."""
    dash = json.loads(DASHBOARD.read_text())
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in _GRAFANA_VARS.items():
                expr = expr.replace(var, value)
            assert "$" not in expr, f"{panel['title']}: unknown variable in {target['expr']}"
            yield panel["title"], expr


def check_names(where: str, names: set[str], exported: set[str]) -> None:
    unknown = {n for n in names if n not in exported and n not in EXTERNAL}
    assert not unknown, f"{where}: no such metric: {sorted(unknown)}"


def test_alert_rules_parse_and_use_exported_metrics(exported: set[str]) -> None:
    rules = list(alert_rules())
    assert len(rules) >= 8
    assert len({r["alert"] for r in rules}) == len(rules)
    used: set[str] = set()
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        check_names(rule["alert"], names, exported)
        used |= names
    assert "rankstream_ready" in used and "rankstream_bridge_retries_total" in used


def test_dashboard_queries_parse_and_use_exported_metrics(exported: set[str]) -> None:
    dash = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and dash["uid"]
    assert {v["name"] for v in dash["templating"]["list"]} >= {"datasource"}
    used: set[str] = set()
    for title, expr in dashboard_queries():
        names = metric_names(expr)
        check_names(title, names, exported)
        used |= names
    # Every family of ours is on the dashboard (a new metric needs a panel).
    families = families_in_source()
    missing = {f for f in families if not any(n.startswith(f) for n in used)}
    assert not missing, f"metrics without a dashboard panel: {sorted(missing)}"


@pytest.mark.parametrize("bad", ["sum(rate(rankstream_ready[5m])", "rankstream_nope_total"])
def test_the_checks_catch_a_broken_query(bad: str, exported: set[str]) -> None:
    with pytest.raises((ValueError, AssertionError)):
        check_names(bad, metric_names(bad), exported)
