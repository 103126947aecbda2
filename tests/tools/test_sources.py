"""``sources.yaml`` and the Prometheus signal source against a scripted HTTP server: results
become checked signals; empty, NaN, unreachable, HTTP error and timeout never pass."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.errors import UserError
from jitplan.contracts.signals import ContractSet
from jitplan.contracts.sources import SourcesFile
from jitplan.tools.gate import GateConfig, Observations, evaluate_gate
from jitplan.tools.signal_sources import open_source
from jitplan.tools.signal_sources.prometheus import PrometheusSource

F = "ticket-summarizer"
NOW = 1_800_000_000.0


class Prom:
    """A scripted Prometheus API: ``answers[query] -> (status, document)`` or a delay."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.asked: list[dict[str, str]] = []
        self.delay = 0.0


@pytest.fixture
def prom(json_api: Any) -> tuple[Prom, str]:
    state = Prom()

    def answer(path: str, q: dict[str, str]) -> tuple[int, Any]:
        state.asked.append({"path": path, **q})
        time.sleep(state.delay)
        status, doc = state.answers.get(q.get("query", ""), (200, _vector([])))
        return int(status), doc

    return state, json_api(answer)


def _vector(values: list[tuple[dict[str, str], str]]) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector",
                                          "result": [{"metric": m, "value": [NOW, v]} for m, v in values]}}


def _matrix(series: list[tuple[dict[str, str], list[tuple[float, str]]]]) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": m, "values": [[t, v] for t, v in pts]} for m, pts in series]}}


def spec(url: str, **over: Any) -> SourcesFile:
    q = 'lat{feature="{{feature}}",cohort="{{cohort}}"}'
    return SourcesFile.model_validate({
        "prometheus": {"url": url, "timeout_s": over.pop("timeout_s", 2)}, "window_s": 60, "step_s": 1,
        "signals": [
            {"name": f"{F}.latency_p95.canary", "kind": "latency", "feature": F, "unit": "ms",
             "cohort": "canary", "query": q},
            {"name": f"{F}.latency_p95.baseline", "kind": "latency", "feature": F, "unit": "ms",
             "cohort": "baseline", "query": q},
        ], **over})


CANARY = f'lat{{feature="{F}",cohort="canary"}}'
BASE = f'lat{{feature="{F}",cohort="baseline"}}'


def contracts() -> ContractSet:
    return ContractSet.model_validate({"contracts": [{"kind": "latency", "unit": "ms", "min": 0, "max": 60000,
                                                     "max_age_s": 600}]})


def series(values: list[float], start: float = NOW - 10) -> list[tuple[float, str]]:
    return [(start + i, repr(v) if v == v else "NaN") for i, v in enumerate(values)]


def test_range_results_are_checked_signals_with_source_and_lineage(prom: tuple[Prom, str]) -> None:
    p, url = prom
    p.answers[CANARY] = (200, _matrix([({"pod": "a"}, series([100, 101, 99, 100, 102]))]))
    p.answers[BASE] = (200, _matrix([({"pod": "b"}, series([100, 99, 101, 100, 98]))]))
    src = PrometheusSource(spec(url), contracts=contracts(), clock=lambda: NOW)
    reading = src.latest()
    assert reading.snapshot is not None and len(reading.snapshot.signals) == 10
    assert not reading.quarantined
    s = reading.snapshot.signals[0]
    assert s.source == f"prometheus {url}"
    assert f"query:{F}.latency_p95.canary" in s.lineage or f"query:{F}.latency_p95.baseline" in s.lineage
    assert any(x.startswith("promql:lat{") for x in s.lineage) and any(x.startswith("series:{pod=") for x in s.lineage)
    assert {x["path"] for x in p.asked} == {"/api/v1/query_range"}
    assert float(p.asked[0]["end"]) - float(p.asked[0]["start"]) == 60
    # samples carry their own times: the gate sees five per cohort after the stage began
    obs = Observations.from_signals(list(reading.snapshot.signals), quarantined=reading.quarantined,
                                    since=datetime.fromtimestamp(NOW - 20, UTC))
    assert len(obs.values(F, "latency_p95_ms", "canary")) == 5


def test_instant_mode_and_version_placeholder_from_the_flags_state(prom: tuple[Prom, str], world: Path) -> None:
    p, url = prom
    doc = spec(url).model_dump()
    doc["signals"][0]["query"] = 'lat{feature="{{feature}}",version="{{version}}"}'
    doc["signals"][1]["query"] = 'lat{feature="{{feature}}",version="{{ version }}"}'
    p.answers[f'lat{{feature="{F}",version="1.1.0"}}'] = (200, _vector([({}, "120")]))
    src = PrometheusSource(SourcesFile.model_validate(doc), state=world / "flags.json", mode="instant",
                           clock=lambda: NOW)
    _at, outcomes = src.read()
    # the world runs no canary of ticket-summarizer: the canary entry says so, the baseline is asked
    assert not outcomes[0].ok and "no canary version" in (outcomes[0].problem or "")
    assert outcomes[1].ok and outcomes[1].signals[0].value == 120
    assert p.asked[-1]["path"] == "/api/v1/query"


@pytest.mark.parametrize(("answer", "why"), [
    ((200, _matrix([])), "empty result"),
    ((200, _matrix([({}, series([float("nan")] * 5))])), "NaN"),
])
def test_empty_or_nan_canary_is_errored_and_the_gate_inconclusive(prom: tuple[Prom, str], answer: Any, why: str) -> None:
    from jitplan.contracts.plan import Step

    p, url = prom
    p.answers[CANARY] = answer
    p.answers[BASE] = (200, _matrix([({}, series([100, 99, 101, 100, 98]))]))
    src = PrometheusSource(spec(url), contracts=contracts(), clock=lambda: NOW)
    reading = src.latest()
    assert reading.snapshot is not None and len(reading.snapshot.signals) == 5  # the baseline's only
    assert [r for r in reading.reasons if why in r and r.startswith(f"{F}.latency_p95.canary ({F}): no samples")]
    obs = Observations.from_signals(list(reading.snapshot.signals), quarantined=reading.quarantined,
                                    as_of=reading.snapshot.observed_at,
                                    since=datetime.fromtimestamp(NOW - 20, UTC))
    step = Step.model_validate({"id": "c", "action": "canary", "feature": F, "version": "1.2.0",
                                "params": {"weight": 5},
                                "tolerances": [{"metric": "latency_p95_ms", "comparator": "<", "threshold": 2500}]})
    assert evaluate_gate(step, obs, GateConfig()).verdict == "inconclusive"
    # the orchestrator's stage gate names the reason
    from jitplan.agent.execution_units import plan_units
    from jitplan.agent.stage_gate import StageGate
    from jitplan.contracts.plan import Plan

    (unit,) = plan_units(Plan.model_validate({"id": "p", "goal": "g", "steps": [step.model_dump(mode="json")]}))
    gate = StageGate(src, GateConfig(), clock=lambda: datetime.fromtimestamp(NOW, UTC), sleep=lambda s: None,
                     poll_s=1.0, plan_sha256="x")
    verdict, _ = gate.read(unit, datetime.fromtimestamp(NOW - 20, UTC))
    assert verdict.verdict == "inconclusive" and why in verdict.reason and "canary n=0" in verdict.reason


def test_http_error_names_prometheus_error(prom: tuple[Prom, str]) -> None:
    p, url = prom
    p.answers[CANARY] = (400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"})
    src = PrometheusSource(spec(url), clock=lambda: NOW)
    _at, outcomes = src.read()
    assert outcomes[0].unreachable and "HTTP 400" in (outcomes[0].problem or "")
    assert "parse error at char 3" in (outcomes[0].problem or "")
    with pytest.raises(UserError, match="HTTP 400"):
        src.latest()


def test_timeout_is_never_a_pass(prom: tuple[Prom, str]) -> None:
    p, url = prom
    p.delay = 1.0
    src = PrometheusSource(spec(url, timeout_s=0.2), clock=lambda: NOW)
    with pytest.raises(UserError, match=r"timeout after 0\.2s"):
        src.latest()


def test_unreachable_server() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = PrometheusSource(spec(f"http://127.0.0.1:{port}"), clock=lambda: NOW)
    _at, outcomes = src.read()
    assert all(o.unreachable and "unreachable" in (o.problem or "") for o in outcomes)
    with pytest.raises(UserError, match="unreachable"):
        src.latest()


def test_not_json_answer(prom: tuple[Prom, str]) -> None:
    p, url = prom
    p.answers[CANARY] = (200, b"<html>proxy</html>")
    with pytest.raises(UserError, match="did not answer JSON"):
        PrometheusSource(spec(url), clock=lambda: NOW).latest()


def test_contract_breaking_values_are_quarantined(prom: tuple[Prom, str]) -> None:
    p, url = prom
    p.answers[CANARY] = (200, _matrix([({}, series([-5, -4, -3, -2]))]))
    p.answers[BASE] = (200, _matrix([({}, series([100, 99, 101, 100]))]))
    reading = PrometheusSource(spec(url), contracts=contracts(), clock=lambda: NOW).latest()
    assert len(reading.quarantined) == 4
    assert any("below" in r or "min" in r for r in reading.reasons)


def test_sources_file_bad_input(tmp_path: Path, cli: Any) -> None:
    bad = tmp_path / "sources.yaml"
    for text, needle in [
        ("signals: [", "sources.yaml"),
        ("signals: []", "signals"),
        ("signals: [{name: a, kind: latency, feature: f, unit: ms, query: up}]", "no Prometheus server"),
        ("prometheus: {url: 'ftp://x'}\nsignals: [{name: a, kind: latency, feature: f, unit: ms, query: up}]",
         "http://"),
        ("prometheus: {url: 'http://x'}\nsignals: [{name: a, kind: latency, feature: f, unit: ms, query: 'up{a=\"{{pod}}\"}'}]",
         "unknown placeholder"),
        ("prometheus: {url: 'http://x'}\nsignals: [{name: a, kind: nope, feature: f, unit: ms, query: up}]",
         "unknown signal kind"),
        ("prometheus: {url: 'http://x'}\nsignals: [{name: a, kind: latency, feature: f, unit: furlong, query: up}]",
         r"signals\[0\].*unit 'furlong' is not a unit of kind 'latency'; use one of .*ms"),
    ]:
        bad.write_text(text)
        with pytest.raises(UserError, match=needle):
            SourcesFile.from_file(bad)
    with pytest.raises(UserError, match="file not found"):
        SourcesFile.from_file(tmp_path / "missing.yaml")
    bad.write_text("signals: [")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"id": "p", "goal": "g", "steps": [{"id": "a", "action": "noop"}]}))
    flags = tmp_path / "flags.json"
    flags.write_text(json.dumps({"flags": {}}))
    r = cli("apply", plan, "--state", flags, "--sources", bad)
    assert r.code == 2 and "sources.yaml" in r.err and len(r.err.strip().splitlines()) == 1


def test_open_source_picks_exactly_one(tmp_path: Path, world: Path) -> None:
    from jitplan.tools.signal_sources.files import FolderSource, SnapshotFileSource

    assert isinstance(open_source(signals=world / "signals" / "steady.yaml"), SnapshotFileSource)
    assert isinstance(open_source(signals_dir=world / "signals"), FolderSource)
    with pytest.raises(UserError, match="exactly one"):
        open_source()


def test_readme_sources_example_is_valid() -> None:
    import re

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M) if "prometheus:" in b]
    assert blocks, "README has no sources.yaml example"
    import yaml

    spec = SourcesFile.model_validate(yaml.safe_load(blocks[0]))
    canary = spec.signals[0]
    assert canary.cohort == "canary" and canary.uses("version")
    assert 'version="1.2.0"' in canary.render("1.2.0")


def test_the_prometheus_address_may_be_a_plain_url(tmp_path: Path) -> None:
    f = tmp_path / "sources.yaml"
    f.write_text("prometheus: 'http://127.0.0.1:9090/'\n"
                 "signals: [{name: a, kind: latency, feature: f, unit: s, query: up,"
                 " prometheus: 'http://10.0.0.1:9090'}]\n")
    spec = SourcesFile.from_file(f)
    assert spec.prometheus is not None and spec.prometheus.url == "http://127.0.0.1:9090"
    assert spec.prometheus.timeout_s == 5.0
    assert spec.server(spec.signals[0]).url == "http://10.0.0.1:9090"


def test_an_entry_for_a_feature_the_catalog_lacks_is_named(tmp_path: Path) -> None:
    f = tmp_path / "sources.yaml"
    f.write_text("prometheus: 'http://x'\nsignals: [{name: a, kind: latency, feature: ticket-summariser,"
                 " unit: ms, query: up}]\n")
    spec = SourcesFile.from_file(f)
    with pytest.raises(UserError, match="did you mean 'ticket-summarizer'") as info:
        spec.check_features(["ticket-summarizer", "pii-redactor"], str(f))
    assert info.value.field == "signals[0].feature"
    spec.check_features(["ticket-summariser"], str(f))  # known: no error
