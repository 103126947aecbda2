"""``jitplan apply --sources``: canaries gated on live samples from a real Prometheus server.

``make test-prometheus`` (``.ci/run`` calls it; opt in with ``JITPLAN_PROMETHEUS_TESTS=1``)
starts Prometheus from the Debian package with ``scripts/start_prometheus.sh`` (127.0.0.1, an
ephemeral port, a throwaway data directory, 1 s scrape interval; stopped by PID afterwards). It
scrapes two small exporters this module runs with ``prometheus_client`` (``python THIS_FILE
serve PORT MODE_FILE``), serving known canary and baseline latencies of ticket-summarizer. A
healthy canary passes; a regressed one is compensated with the flags restored byte for byte; a
stopped exporter leaves the stage without fresh samples, so the gate is inconclusive and the run
pauses. A machine that cannot run the server is reported as a skip with the reason.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "start_prometheus.sh"
F = "ticket-summarizer"
METRIC = "jitplan_test_latency_ms"

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.skipif(
        not os.environ.get("JITPLAN_PROMETHEUS_TESTS"),
        reason="starts a Prometheus server: set JITPLAN_PROMETHEUS_TESTS=1 (make test-prometheus)",
    ),
]


def _serve(port: int, mode_file: str) -> None:
    """The test exporter: baseline ~800 ms; canary ~800 ms, or ~2000 ms when MODE_FILE says regressed."""
    from prometheus_client import CollectorRegistry, Gauge, start_http_server

    reg = CollectorRegistry()
    g = Gauge(METRIC, "p95 latency by cohort", ["feature", "cohort", "version"], registry=reg)
    start_http_server(port, addr="127.0.0.1", registry=reg)
    rng = random.Random(port)
    while True:
        try:
            mode = Path(mode_file).read_text().strip()
        except OSError:
            mode = "healthy"
        g.labels(F, "baseline", "1.1.0").set(rng.gauss(800, 30))
        g.labels(F, "canary", "1.2.0").set(rng.gauss(2000 if mode == "regressed" else 800, 30))
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Exporter:
    port: int
    mode_file: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "serve", str(self.port), str(self.mode_file)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    @property
    def instance(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class Prom:
    url: str
    a: Exporter
    b: Exporter

    def count(self, exporter: Exporter) -> int:
        q = f'count({METRIC}{{instance="{exporter.instance}"}})'
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': q})}"
        with urllib.request.urlopen(url, timeout=5) as r:
            res = json.loads(r.read())["data"]["result"]
        return int(float(res[0]["value"][1])) if res else 0


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prom]:
    pytest.importorskip("prometheus_client", reason="the dev extra (prometheus-client) is not installed")
    tmp = tmp_path_factory.mktemp("prom")
    a = Exporter(_free_port(), tmp / "mode-a")
    b = Exporter(_free_port(), tmp / "mode-b")
    port = _free_port()
    env = dict(os.environ, JITPLAN_PROM_PORT=str(port), JITPLAN_PROM_DIR=str(tmp / "server"),
               JITPLAN_PROM_TARGETS=f"{a.instance},{b.instance}", JITPLAN_PROM_SCRAPE="1s")
    a.start()
    b.start()
    try:
        run = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            pytest.skip(f"cannot run a Prometheus server here: {run.stderr.strip().splitlines()[-1:]}")
        p = Prom(run.stdout.strip(), a, b)
        try:
            deadline = time.monotonic() + 30
            while (p.count(a) < 2 or p.count(b) < 2) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert p.count(a) == 2 and p.count(b) == 2, "Prometheus never scraped both test exporters"
            yield p
        finally:
            subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=60)
    finally:
        a.stop()
        b.stop()


def sources(path: Path, prom: Prom, exporter: Exporter) -> Path:
    q = (f'{METRIC}{{feature="{{{{feature}}}}",cohort="{{{{cohort}}}}",version="{{{{version}}}}",'
         f'instance="{exporter.instance}"}}')
    doc = {"prometheus": {"url": prom.url, "timeout_s": 5}, "window_s": 120, "step_s": 1,
           "signals": [{"name": f"{F}.latency_p95.{c}", "kind": "latency", "feature": F, "unit": "ms",
                        "cohort": c, "query": q} for c in ("canary", "baseline")]}
    path.write_text(json.dumps(doc))
    return path


PLAN = {"id": "plan-live-canary", "goal": "canary ticket-summarizer 1.2.0 on live metrics", "steps": [
    {"id": "c5", "action": "canary", "feature": F, "version": "1.2.0", "params": {"weight": 5},
     "tolerances": [{"metric": "latency_p95_ms", "comparator": "<", "threshold": 2500}], "timeout_s": 40}]}


def approve(plan: Path, flags: Path, catalog: Path, policy: Path) -> None:
    """An approval record of the plan, as ``jitplan approve`` leaves it."""
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.plan import Plan
    from jitplan.tools.audit import AuditLog
    from jitplan.tools.flags import FlagStore
    from jitplan.tools.policy import PolicyBundle

    inputs = {"catalog_path": str(catalog), "catalog_sha256": Catalog.from_file(catalog).digest(),
              "policy_dir": str(policy), "policy_sha256": PolicyBundle.load(policy).sha256,
              "state_path": str(flags), "state_sha256": FlagStore(flags).read().digest()}
    with AuditLog.open() as log:
        log.append("approval", {"plan_sha256": Plan.from_file(plan).digest(), "decision": "approved",
                                "by": "operator", "comment": "ok", "auto": False, "inputs": inputs},
                   thread_id="cycle-live")


@pytest.fixture
def ws(tmp_path: Path, world: Path) -> dict[str, Path]:
    flags = tmp_path / "flags.json"
    shutil.copyfile(world / "flags.json", flags)
    catalog = tmp_path / "catalog.yaml"
    shutil.copyfile(world / "catalog.yaml", catalog)
    policy = tmp_path / "policies"
    shutil.copytree(ROOT / "tools" / "policy_bundle", policy)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    approve(plan, flags, catalog, policy)
    return {"flags": flags, "plan": plan, "contracts": world / "contracts.yaml", "dir": tmp_path,
            "catalog": catalog, "policy": policy}


def apply(cli: Any, ws: dict[str, Path], src: Path) -> tuple[int, dict[str, Any], str]:
    r = cli("apply", ws["plan"], "--state", ws["flags"], "--sources", src, "--contracts", ws["contracts"],
            "--poll", "0.5", "--json")
    return r.code, json.loads(r.out), r.err


def test_healthy_canary_passes(prom: Prom, ws: dict[str, Path], cli: Any) -> None:
    prom.a.mode_file.write_text("healthy")
    code, doc, err = apply(cli, ws, sources(ws["dir"] / "sources.yaml", prom, prom.a))
    assert code == 0, (doc, err)
    assert doc["status"] == "applied"
    gate = doc["steps"][0]["gate"]
    assert gate["verdict"] in ("pass", "marginal"), gate
    comp = gate["comparisons"][0]
    assert comp["canary_n"] >= 4 and comp["baseline_n"] >= 4
    assert "(prometheus)" in gate["signals_source"]


def test_regressed_canary_is_compensated_byte_for_byte(prom: Prom, ws: dict[str, Path], cli: Any) -> None:
    prom.a.mode_file.write_text("regressed")
    time.sleep(1.5)  # the regression is live in Prometheus before the canary starts
    before = ws["flags"].read_bytes()
    code, doc, err = apply(cli, ws, sources(ws["dir"] / "sources.yaml", prom, prom.a))
    assert code == 1, (doc, err)
    assert doc["status"] == "compensated", doc
    assert doc["steps"][0]["gate"]["verdict"] == "fail"
    assert ws["flags"].read_bytes() == before


def test_stopped_exporter_is_inconclusive_and_pauses(prom: Prom, ws: dict[str, Path], cli: Any) -> None:
    prom.b.stop()
    time.sleep(2.5)  # scrapes fail: Prometheus marks the series stale
    plan = json.loads(ws["plan"].read_text())
    plan["steps"][0]["timeout_s"] = 6  # how long the stage waits for fresh samples
    ws["plan"].write_text(json.dumps(plan))
    approve(ws["plan"], ws["flags"], ws["catalog"], ws["policy"])
    flags = json.loads(ws["flags"].read_text())
    code, doc, err = apply(cli, ws, sources(ws["dir"] / "sources.yaml", prom, prom.b))
    assert code == 1, (doc, err)
    assert doc["status"] == "paused", doc
    gate = doc["steps"][0]["gate"]
    assert gate["verdict"] == "inconclusive"
    assert "too few fresh samples" in gate["reason"] and "waited" in gate["reason"]
    assert "canary n=0, baseline n=0" in gate["reason"]
    # paused, not compensated: the canary stays at 5 % until a human re-runs or aborts
    assert json.loads(ws["flags"].read_text()) != flags


def test_watch_polls_live_queries_and_reports_a_dead_exporter(prom: Prom, world: Path, tmp_path: Path, cli: Any) -> None:
    """``jitplan watch --sources``: a live answer updates the trigger state; a stopped exporter's
    query is empty, reported inconclusive, and changes nothing."""
    prom.a.mode_file.write_text("healthy")
    prom.b.stop()

    def watch(exporter: Exporter) -> list[dict[str, Any]]:
        src = tmp_path / f"sources-{exporter.port}.yaml"
        src.write_text(json.dumps({"prometheus": {"url": prom.url, "timeout_s": 5}, "signals": [
            {"name": f"{F}.latency_p95", "kind": "latency", "feature": F, "unit": "ms",
             "query": f'max({METRIC}{{feature="{{{{feature}}}}",instance="{exporter.instance}"}})'}]}))
        r = cli("watch", "--catalog", world / "catalog.yaml", "--contracts", world / "contracts.yaml",
                "--sources", src, "--state", world / "flags.json", "--once", "--json")
        assert r.code == 0, r.err
        return [json.loads(x) for x in r.out.splitlines()]

    ev = watch(prom.a)
    assert [e["changed"] for e in ev if e["event"] == "snapshot"] == [{F: []}]  # ~800 ms: within the SLO
    time.sleep(2.5)
    ev = watch(prom.b)
    (inc,) = [e for e in ev if e["event"] == "inconclusive"]
    assert "empty result" in inc["problems"][0]
    assert not [e for e in ev if e["event"] in ("snapshot", "cycle")]


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    _serve(int(sys.argv[2]), sys.argv[3])
