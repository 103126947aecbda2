"""``jitplan simulate``: JSON contract, summary, outputs, exit codes and clear input errors."""

from __future__ import annotations

import csv
import json
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.plan import Plan

ROOT = Path(__file__).resolve().parents[2]
SIM = ROOT / "scenarios" / "sim"
REQUIRED = {
    "requests",
    "throughput_rps",
    "utilization",
    "wait_mean_s",
    "latency_mean_s",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "error_rate",
    "cost_usd",
    "quality_mean",
}


def _small(tmp_path: Path, extra: str = "") -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(
        "name: small\nseed: 4\nrequests: 20000\nwarmup_requests: 1000\n"
        "traffic: {arrival: poisson, rate_rps: 9}\n"
        "service: {concurrency: 10, latency: {dist: exponential, mean_s: 1.0}}\n" + extra
    )
    return p


def test_json_output_has_the_documented_fields(cli: Any, tmp_path: Path) -> None:
    r = cli("simulate", _small(tmp_path), "--json", "--replications", "2", "--seed", "5")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["scenario"] == "small" and doc["engine"] == "fast"
    assert doc["seed"] == 5 and doc["replications"] == 2
    assert set(doc["metrics"]) >= REQUIRED
    assert all(isinstance(doc["metrics"][k], float | int) for k in REQUIRED)
    assert set(doc["metrics"]["ci95"]) >= REQUIRED
    assert isinstance(doc["timeline"], list)
    assert "verdict" not in doc
    again = cli("simulate", _small(tmp_path), "--json", "--replications", "2", "--seed", "5")
    assert again.out == r.out


def test_plan_verdict_and_exit_code(cli: Any, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    scenario = SIM / "cost_explosion.yaml"
    from jitplan.simulator import load_scenario

    embedded = load_scenario(scenario).plan
    assert embedded is not None
    plan.write_text(embedded.model_dump_json())
    r = cli("simulate", scenario, "--plan", plan, "--json")
    assert r.code == 1
    doc = json.loads(r.out)
    assert doc["verdict"]["status"] == "fail"
    b = doc["verdict"]["breaches"][0]
    assert {"step", "metric", "comparator", "threshold", "observed"} <= set(b)
    assert b["metric"] == "cost_per_request_usd"
    kinds = [e["kind"] for e in doc["timeline"]]
    assert "gate_failed" in kinds and "rollback" in kinds
    assert all(isinstance(e["t_s"], float | int) for e in doc["timeline"])
    Plan.model_validate_json(plan.read_text())


def test_summary_table_and_out_dir(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = cli("simulate", SIM / "baseline.yaml", "--out", out)
    assert r.code == 0, r.err
    assert "latency_p95_s" in r.out and "verdict: PASS" in r.out
    doc = json.loads((out / "result.json").read_text())
    assert doc["verdict"]["status"] == "pass"
    with (out / "timeseries.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) > 100
    assert {"t_s", "latency_p95_s", "error_rate", "canary_weight"} <= set(rows[0])
    assert {float(r["canary_weight"]) for r in rows} >= {0.0, 5.0, 25.0}
    assert (out / "timeseries.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_scenario_field_exits_2_naming_the_field(cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nrequests: 100\nservice: {concurrency: 0}\n")
    r = cli("simulate", bad, "--json")
    assert r.code == 2
    assert "bad.yaml" in r.err and "service.concurrency" in r.err
    assert "Traceback" not in r.err


def test_bad_scenario_shapes_exit_2(cli: Any, tmp_path: Path) -> None:
    cases = {
        "both.yaml": ("name: x\nrequests: 10\nduration_s: 5\n", "exactly one of requests"),
        "dist.yaml": (
            "name: x\nrequests: 10\nservice: {latency: {dist: weibull}}\n",
            "service.latency.dist",
        ),
        "unknown.yaml": ("name: x\nrequests: 10\ntrafic: {}\n", "trafic"),
        "target.yaml": (
            "name: x\nrequests: 10\nfaults: [{kind: outage, start_s: 1, "
            "duration_s: 1, target: nope}]\n",
            "nope",
        ),
        "trace.yaml": (
            "name: x\nduration_s: 10\ntraffic: {arrival: trace, path: missing.csv}\n",
            "missing.csv",
        ),
    }
    for name, (text, needle) in cases.items():
        p = tmp_path / name
        p.write_text(text)
        r = cli("simulate", p)
        assert r.code == 2, (name, r.err)
        assert needle in r.err, (name, r.err)
    r = cli("simulate", tmp_path / "nope.yaml")
    assert r.code == 2 and "file not found" in r.err
    r = cli("simulate", _small(tmp_path), "--replications", "0")
    assert r.code == 2 and "--replications" in r.err


def test_exact_engine_from_cli(cli: Any, tmp_path: Path) -> None:
    r = cli("simulate", _small(tmp_path), "--engine", "exact", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["engine"] == "exact" and doc["metrics"]["requests"] == 19000


def test_ray_backend_without_ray_is_a_clear_error(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whether or not ray is installed here: the import is made to fail, as on a machine without it.
    monkeypatch.setitem(sys.modules, "ray", None)
    r = cli("simulate", _small(tmp_path), "--backend", "ray")
    assert r.code == 2, r.out + r.err
    assert r.err == ("jitplan: error: --backend ray needs the 'ray' package "
                     "(pip install 'jitplan[ray]')\n")


class _LocalRay(types.ModuleType):
    """Stands in for ``ray`` (not a dev dependency): runs each remote task in-process, and records
    what the backend asked of it. A real Ray head is tested by ``make test-ray``."""

    def __init__(self) -> None:
        super().__init__("ray")
        self.initialized = False
        self.init_kwargs: dict[str, Any] = {}
        self.tasks: list[tuple[Any, ...]] = []

    def is_initialized(self) -> bool:
        return self.initialized

    def init(self, **kwargs: Any) -> None:
        self.initialized, self.init_kwargs = True, kwargs

    def remote(self, fn: Callable[..., Any]) -> Any:
        ray = self

        class _Remote:
            def remote(self, *args: Any) -> tuple[str, Any]:
                ray.tasks.append(args)
                return ("ref", fn(*args))

        return _Remote()

    def wait(self, pending: list[Any], num_returns: int) -> tuple[list[Any], list[Any]]:
        return pending[:num_returns], pending[num_returns:]

    def get(self, refs: list[tuple[str, Any]]) -> list[Any]:
        return [value for _, value in refs]


def test_ray_backend_runs_each_replication_as_a_ray_task_with_the_local_results(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = _LocalRay()
    monkeypatch.setitem(sys.modules, "ray", ray)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    args = ("simulate", _small(tmp_path), "--json", "--replications", "3", "--seed", "5")
    r = cli(*args, "--backend", "ray")
    assert r.code == 0, r.err
    assert ray.initialized and ray.init_kwargs["address"] is None  # a local instance
    assert [t[3:] for (t,) in ray.tasks] == [(5, 0), (5, 1), (5, 2)]  # (seed, replication index)
    local = cli(*args, "--backend", "local")
    assert local.code == 0, local.err
    on_ray, here = json.loads(r.out), json.loads(local.out)
    assert on_ray["replications"] == here["replications"] == 3
    assert on_ray["metrics"] == here["metrics"]  # ci95 included
    assert on_ray["timeline"] == here["timeline"]


def test_progress_bar_writes_a_bar() -> None:
    import io

    from jitplan.simulator.output import ProgressBar

    buf = io.StringIO()
    bar = ProgressBar("sim", stream=buf, min_interval_s=0.0)
    bar(0.5)
    bar(1.0)
    bar.close()
    text = buf.getvalue()
    assert "50.0%" in text and "100.0%" in text and text.endswith("\n")


def test_plan_file_in_library_is_valid(cli: Any) -> None:
    r = cli(
        "simulate",
        SIM / "load_spike.yaml",
        "--plan",
        SIM / "plans" / "canary_ticket_summarizer.json",
        "--json",
    )
    assert r.code == 1
    assert json.loads(r.out)["verdict"]["plan"] == "canary-ticket-summarizer-1.1.0"
