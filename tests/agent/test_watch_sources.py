"""``jitplan watch --sources``: polls PromQL queries (a scripted Prometheus API here); a crossed
trigger runs a cycle, a failed query is reported inconclusive and never clears a trigger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

F = "ticket-summarizer"


@pytest.fixture
def prom(json_api: Any) -> tuple[dict[str, Any], str]:
    """``answers[metric] = value | (status, body)``; instant samples stamped at the query time."""
    answers: dict[str, Any] = {}

    def answer(path: str, q: dict[str, str]) -> tuple[int, Any]:
        a = answers.get(q["query"].split("{")[0])
        if isinstance(a, tuple):
            return a
        result = [] if a is None else [{"metric": {"feature": F}, "value": [float(q["time"]), str(a)]}]
        return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}

    return answers, json_api(answer)


def test_watch_sources_cycles_on_a_crossing_and_reports_failures(
        prom: tuple[dict[str, Any], str], cli: Any, world: Path, tmp_path: Path) -> None:
    answers, url = prom
    sources = tmp_path / "sources.yaml"
    sources.write_text(json.dumps({"prometheus": {"url": url, "timeout_s": 2}, "signals": [
        {"name": f"{F}.latency_p95", "kind": "latency", "feature": F, "unit": "ms",
         "query": 'lat{feature="{{feature}}"}'},
        {"name": f"{F}.errors", "kind": "error_rate", "feature": F, "unit": "ratio",
         "query": 'errs{feature="{{feature}}"}'},
    ]}))

    def watch() -> list[dict[str, Any]]:
        r = cli("watch", "--catalog", world / "catalog.yaml", "--contracts", world / "contracts.yaml",
                "--sources", sources, "--state", world / "flags.json", "--once", "--json", "--replications", "2")
        assert r.code == 0, r.err
        return [json.loads(x) for x in r.out.splitlines()]

    def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
        return [e for e in events if e["event"] == kind]

    answers.update(lat=1400, errs=0.002)
    ev = watch()
    assert of(ev, "snapshot")[0]["changed"] == {F: []} and of(ev, "cycle") == []

    answers.update(lat=9000)  # crosses the SLO: the feature gets a cycle
    ev = watch()
    (cyc,) = of(ev, "cycle")
    assert cyc["feature"] == F and f"finding:latency:{F}.latency_p95" in cyc["triggers"]

    answers.update(lat=(503, {"status": "error", "errorType": "unavailable", "error": "overloaded"}))
    ev = watch()  # inconclusive, said so; the breach is not cleared by a missing answer
    (inc,) = of(ev, "inconclusive")
    assert any("HTTP 503" in p and "overloaded" in p for p in inc["problems"])
    assert of(ev, "snapshot") == [] and of(ev, "cycle") == []

    answers.pop("lat")  # empty result: the same
    ev = watch()
    assert any("empty result" in p for p in of(ev, "inconclusive")[0]["problems"])
    assert of(ev, "cycle") == []

    from jitplan.tools.audit import AuditLog

    with AuditLog.open() as log:
        assert log.verify().ok
        assert [r for r in log.records() if r.kind == "watch_inconclusive"]


def test_canary_queries_gate_applies_and_never_hold_back_triggers(
        prom: tuple[dict[str, Any], str], cli: Any, world: Path, tmp_path: Path) -> None:
    """A canary query with no canary running has no answer (no ``{{version}}``): that is not a
    failed poll; canary and shadow queries only feed an apply's gates, so the feature's
    serving-version queries still trigger its cycle."""
    answers, url = prom
    answers.update(lat=9000)
    sources = tmp_path / "sources.yaml"
    canary = {"name": f"{F}.latency_p95.canary", "kind": "latency", "feature": F, "unit": "ms", "cohort": "canary",
              "query": 'canarylat{feature="{{feature}}",version="{{version}}"}'}
    serving = {"name": f"{F}.latency_p95", "kind": "latency", "feature": F, "unit": "ms",
               "query": 'lat{feature="{{feature}}"}'}
    sources.write_text(json.dumps({"prometheus": {"url": url}, "signals": [canary, serving]}))
    r = cli("watch", "--catalog", world / "catalog.yaml", "--contracts", world / "contracts.yaml",
            "--sources", sources, "--state", world / "flags.json", "--once", "--json", "--replications", "2")
    assert r.code == 0, r.err
    events = [json.loads(x) for x in r.out.splitlines()]
    assert not [e for e in events if e["event"] == "inconclusive"]
    (cyc,) = [e for e in events if e["event"] == "cycle"]
    assert cyc["triggers"] == [f"finding:latency:{F}.latency_p95"]

    sources.write_text(json.dumps({"prometheus": {"url": url}, "signals": [canary]}))
    r = cli("watch", "--catalog", world / "catalog.yaml", "--contracts", world / "contracts.yaml",
            "--sources", sources, "--once")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
    assert "no query without a cohort" in r.err and "sources.yaml" in r.err


def test_a_query_for_a_feature_the_catalog_lacks_is_bad_input(cli: Any, world: Path, tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(json.dumps({"prometheus": "http://127.0.0.1:9", "signals": [
        {"name": "x.latency", "kind": "latency", "feature": "ticket-sumarizer", "unit": "ms", "query": "lat"}]}))
    r = cli("watch", "--catalog", world / "catalog.yaml", "--contracts", world / "contracts.yaml",
            "--sources", sources, "--once")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
    assert "signals[0].feature" in r.err and "did you mean 'ticket-summarizer'" in r.err
