"""``jitplan watch --sources S --apply`` end to end against a real Prometheus server.

Part of ``make test-prometheus`` (opt in with ``JITPLAN_PROMETHEUS_TESTS=1``; the server comes
from ``scripts/start_prometheus.sh``, started and stopped by PID; a machine that cannot run it
is a skip with the reason). An exporter (``python THIS_FILE serve PORT MODE_FILE``, run with
``prometheus_client``) serves ticket-summarizer's metrics per version and cohort: the serving
1.1.0 drifts (0.14 > the catalog's 0.08), 1.2.0 does not. The watch polls the queries, sees the
drift crossing the trigger, plans (the offline planner auto-approves shadow -> canary 10 % ->
canary 50 % -> refresh_prompt of the proven 1.2.0), and applies the plan with every canary stage
gated on live canary vs baseline samples from Prometheus. A healthy 1.2.0 ends promoted; a
regressed one (2 s p95 against 0.8 s) fails its first canary gate and is compensated, the flags
file restored byte for byte. Then SIGTERM: exit 0, a ``watch_stopped`` audit record, a settled
ledger, and ``jitplan audit verify`` passes.
"""

from __future__ import annotations

import json
import os
import queue
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported lazily: this file also runs as the exporter script
    from tests.agent.test_prometheus_apply import Exporter

F = "ticket-summarizer"
P = "jitplan_e2e_"

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.skipif(
        not os.environ.get("JITPLAN_PROMETHEUS_TESTS"),
        reason="starts a Prometheus server: set JITPLAN_PROMETHEUS_TESTS=1 (make test-prometheus)",
    ),
]


def _serve(port: int, mode_file: str) -> None:
    """1.1.0 (baseline) and 1.2.0 (canary and shadow cohorts): latency, errors, quality, cost, drift."""
    from prometheus_client import CollectorRegistry, Gauge, start_http_server

    reg = CollectorRegistry()
    labels = ["feature", "version", "cohort"]
    g = {m: Gauge(P + m, m, labels, registry=reg) for m in ("latency_ms", "error_ratio", "quality", "cost_usd", "drift")}
    demand = Gauge(P + "demand_rpm", "demand", ["feature"], registry=reg)
    start_http_server(port, addr="127.0.0.1", registry=reg)
    rng = random.Random(port)
    while True:
        try:
            regressed = Path(mode_file).read_text().strip() == "regressed"
        except OSError:
            regressed = False
        demand.labels(F).set(95)
        for version, cohort in (("1.1.0", "baseline"), ("1.2.0", "canary"), ("1.2.0", "shadow")):
            new = version == "1.2.0"
            g["latency_ms"].labels(F, version, cohort).set(rng.gauss(2000 if new and regressed else 800, 30))
            g["error_ratio"].labels(F, version, cohort).set(max(0.0, rng.gauss(0.002, 0.00005)))  # 2.5 %: never 10 % apart by chance
            g["quality"].labels(F, version, cohort).set(rng.gauss(0.9, 0.004))
            g["cost_usd"].labels(F, version, cohort).set(rng.gauss(0.0004, 0.000005))
            g["drift"].labels(F, version, cohort).set(0.02 if new else 0.14)
        time.sleep(0.2)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Exporter]]:
    pytest.importorskip("prometheus_client", reason="the dev extra (prometheus-client) is not installed")
    from tests.agent.test_prometheus_apply import SCRIPT, Exporter, _free_port

    tmp = tmp_path_factory.mktemp("promwatch")
    exp = Exporter(_free_port(), tmp / "mode")
    exp.proc = subprocess.Popen([sys.executable, __file__, "serve", str(exp.port), str(exp.mode_file)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = _free_port()
    env = dict(os.environ, JITPLAN_PROM_PORT=str(port), JITPLAN_PROM_DIR=str(tmp / "server"),
               JITPLAN_PROM_TARGETS=exp.instance, JITPLAN_PROM_SCRAPE="1s")
    try:
        run = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            pytest.skip(f"cannot run a Prometheus server here: {run.stderr.strip().splitlines()[-1:]}")
        url = run.stdout.strip()
        try:
            import urllib.parse
            import urllib.request

            q = urllib.parse.urlencode({"query": f'count({P}latency_ms{{instance="{exp.instance}"}})'})
            deadline, n = time.monotonic() + 30, 0
            while n < 3 and time.monotonic() < deadline:
                with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=5) as r:
                    res = json.loads(r.read())["data"]["result"]
                n = int(float(res[0]["value"][1])) if res else 0
                time.sleep(0.5)
            assert n == 3, "Prometheus never scraped the test exporter"
            yield url, exp
        finally:
            subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=60)
    finally:
        exp.stop()


def sources(path: Path, url: str, exp: Exporter) -> Path:
    """Each metric per cohort (canary/baseline/shadow: the gates) and without one (the serving
    version: the triggers and the promote phase's gate)."""
    inst = f'instance="{exp.instance}"'
    metrics = [("latency_p95", "latency", "ms", "latency_ms"), ("errors", "error_rate", "ratio", "error_ratio"),
               ("quality", "data_quality", "ratio", "quality"), ("cost", "cost", "usd_per_request", "cost_usd")]
    signals: list[dict[str, Any]] = []
    for name, kind, unit, m in metrics:
        for cohort in ("canary", "baseline", "shadow"):
            signals.append({"name": f"{F}.{name}.{cohort}", "kind": kind, "feature": F, "unit": unit, "cohort": cohort,
                            "query": f'{P}{m}{{feature="{{{{feature}}}}",cohort="{{{{cohort}}}}",'
                                     f'version="{{{{version}}}}",{inst}}}'})
    for name, kind, unit, m in [*metrics, ("drift", "drift", "ratio", "drift")]:
        signals.append({"name": f"{F}.{name}", "kind": kind, "feature": F, "unit": unit,
                        "query": f'max by (feature) ({P}{m}{{feature="{{{{feature}}}}",version="{{{{version}}}}",{inst}}})'})
    signals.append({"name": f"{F}.demand", "kind": "demand", "feature": F, "unit": "rpm",
                    "query": f'{P}demand_rpm{{feature="{{{{feature}}}}",{inst}}}'})
    path.write_text(json.dumps({"prometheus": {"url": url, "timeout_s": 5}, "window_s": 120, "step_s": 1,
                                "signals": signals}))
    return path


class Watch:
    """A ``jitplan watch --apply`` process; its JSON events are read on a thread."""

    def __init__(self, world: Path, flags: Path, src: Path) -> None:
        exe = Path(sys.executable).parent / "jitplan"
        self.proc = subprocess.Popen(
            [str(exe), "watch", "--catalog", str(world / "catalog.yaml"), "--contracts", str(world / "contracts.yaml"),
             "--sources", str(src), "--state", str(flags), "--evidence", str(world / "evidence"), "--apply",
             "--replications", "2", "--interval", "0.5", "--debounce", "0", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.err: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.err.extend(self.proc.stderr or ()), daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put(None)

    def until(self, kind: str, timeout_s: float = 240) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                e = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {kind!r} event in {timeout_s}s; saw {self.seen}") from None
            assert e is not None, f"watch exited before {kind!r}: {self.seen} {self.stop()[1]}"
            self.seen.append(e)
            if e["event"] == kind:
                return e

    def stop(self) -> tuple[int, str, list[dict[str, Any]]]:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            raise
        rest = []
        while (e := self.events.get(timeout=10)) is not None:
            rest.append(e)
        self.seen += rest
        time.sleep(0.2)  # the stderr reader drains the closed pipe
        return self.proc.returncode, "".join(self.err), rest


def run_watch(world: Path, flags: Path, src: Path, cli: Any) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    w = Watch(world, flags, src)
    try:
        cycle = w.until("cycle")
        applied = w.until("applied")
    finally:
        code, err, rest = w.stop()
    assert code == 0, err
    assert "SIGTERM: stopping after the current step" in err
    assert rest[-1]["event"] == "stopped"
    return cycle, applied, w.seen


def check_clean_stop(cli: Any, thread_id: str, apply_status: str) -> list[str]:
    """The last audit record is the watch's stop, the chain verifies, the ledger is settled."""
    from jitplan.tools.audit import AuditLog

    with AuditLog.open() as log:
        records = list(log.records())
        assert log.verify().ok
    assert records[-1].kind == "watch_stopped" and records[-1].payload["why"] == "signal"
    assert cli("audit", "verify").code == 0
    with sqlite3.connect(Path(os.environ["JITPLAN_HOME"]) / "watch" / "ledger.db") as db:
        row = db.execute("SELECT cycle_status, decision, apply_status FROM features WHERE feature=? AND thread_id=?",
                         (F, thread_id)).fetchone()
    assert row == ("done", "approved", apply_status)
    return [r.kind for r in records if r.thread_id == thread_id]


@pytest.fixture
def flags(tmp_path: Path, world: Path) -> Path:
    path = tmp_path / "flags.json"
    shutil.copyfile(world / "flags.json", path)
    return path


def test_watch_applies_a_healthy_canary_to_promotion(
        prom: tuple[str, Exporter], world: Path, flags: Path, tmp_path: Path, cli: Any) -> None:
    from jitplan.tools.flags import FlagStore

    url, exp = prom
    exp.mode_file.write_text("healthy")
    cycle, applied, seen = run_watch(world, flags, sources(tmp_path / "sources.yaml", url, exp), cli)
    assert cycle["feature"] == F and cycle["decision"] == "approved", cycle
    assert next(e["changed"] for e in seen if e["event"] == "snapshot") == {F: ["finding:drift:ticket-summarizer.drift"]}
    assert applied["status"] == "applied", applied
    fs = FlagStore(flags).read().get(F)
    assert fs.version == "1.2.0" and fs.canary_version is None and fs.shadow_version is None
    kinds = check_clean_stop(cli, cycle["thread_id"], "applied")
    assert kinds.count("execution_started") == 1 and kinds.count("execution") == 1
    from jitplan.tools.audit import AuditLog

    with AuditLog.open() as log:
        gates = [r.payload for r in log.records(cycle["thread_id"]) if r.kind == "gate"]
    assert [g["unit"] for g in gates] == ["s1", "s2", "s3", "s4#shadow", "s4#canary", "s4#promote"]
    canary = [g for g in gates if g["comparisons"]]
    assert [g["unit"] for g in canary] == ["s2", "s3", "s4#canary"]
    for g in gates:
        assert g["verdict"] in ("pass", "marginal"), g
        assert "(prometheus)" in g["signals_source"]
    for g in canary:
        assert all(c["canary_n"] >= 4 and c["baseline_n"] >= 4 for c in g["comparisons"]), g


def test_watch_compensates_a_regressed_canary_byte_for_byte(
        prom: tuple[str, Exporter], world: Path, flags: Path, tmp_path: Path, cli: Any) -> None:
    url, exp = prom
    exp.mode_file.write_text("regressed")
    time.sleep(1.5)  # the regression is live in Prometheus before the watch starts
    before = flags.read_bytes()
    cycle, applied, _seen = run_watch(world, flags, sources(tmp_path / "sources.yaml", url, exp), cli)
    assert cycle["decision"] == "approved", cycle
    assert applied["status"] == "compensated", applied
    assert flags.read_bytes() == before
    kinds = check_clean_stop(cli, cycle["thread_id"], "compensated")
    assert "compensation_started" in kinds and kinds.count("execution") == 1
    from jitplan.tools.audit import AuditLog

    with AuditLog.open() as log:
        gates = {r.payload["unit"]: r.payload for r in log.records(cycle["thread_id"]) if r.kind == "gate"}
    assert list(gates) == ["s1", "s2"]  # the shadow holds its tolerances; the first canary fails
    assert gates["s2"]["verdict"] == "fail"
    (lat,) = [c for c in gates["s2"]["comparisons"] if c["metric"] == "latency_p95_ms"]
    assert lat["verdict"] == "fail" and lat["canary_n"] >= 4 and lat["baseline_n"] >= 4


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    _serve(int(sys.argv[2]), sys.argv[3])
