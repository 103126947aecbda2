"""The built wheel, installed into a fresh venv outside the repository, runs the whole job.

``make test-wheel`` (``.ci/run`` calls it; opt in with ``JITPLAN_WHEEL_TESTS=1``):

1. copies the sources a build needs to a temp folder and builds the wheel there (no ``build/``
   left in the checkout, no stale files from an earlier build);
2. checks the wheel: one top-level import package ``jitplan`` (no ``agent``, ``contracts``,
   ``tools``, ``simulator``), every module of the repository's packages, the policy bundle, the
   examples and the Azure trace's licence;
3. installs it with ``pip install -c constraints.txt`` into a new venv (nothing from the
   repository's venv);
4. from a folder with its own ``contracts/``, ``tools/``, ``simulator/`` and ``agent/`` packages
   (which raise if imported: the old wheel's top-level names collided with them), on a small shop
   catalog written here, runs ``catalog validate``, ``plan`` (the shipped policy applied),
   ``simulate``, ``apply`` (gates fed live signals) and ``audit verify``, plus
   ``jitplan examples`` and a simulator script with ``workers=2``;
5. from that folder, starts the installed ``jitplan serve`` on 127.0.0.1 (ephemeral port, a
   tokens file made with ``--hash-token``) and checks the API's 401 and 200, the login page with
   its static files (templates and static files ship) and ``/docs``; stops it by PID.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import time
import venv
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "contracts", "tools", "simulator")
BUILD_INPUTS = ("pyproject.toml", "README.md", "jitplan", "scenarios", *PACKAGES)

pytestmark = [
    pytest.mark.wheel,
    pytest.mark.skipif(not os.environ.get("JITPLAN_WHEEL_TESTS"),
                       reason="builds and installs the wheel: set JITPLAN_WHEEL_TESTS=1 (make test-wheel)"),
]

SHADOW = "raise ImportError('the user project\\'s own {name} package was imported')\n"

CATALOG = """\
catalog: shop
version: 1
features:
  - id: product-description
    version: 1.0.0
    kind: prompt
    description: Writes a product description from the catalogue attributes.
    owner: shop-ml
    cost: {per_request_usd: 0.001, daily_budget_usd: 500}
    risk: {tier: low, data_classes: [public], harms: [inaccurate description]}
    governance: {regions: [eu, us], roles: [operator]}
    slo: {latency_p95_ms: 3000, error_rate_max: 0.01, quality_min: 0.8}
    triggers: {demand_min_rpm: 30}
  - id: search-rewriter
    version: 1.0.0
    kind: prompt
    description: Rewrites shopper queries for the search index.
    owner: shop-ml
    cost: {per_request_usd: 0.0002, daily_budget_usd: 20}
    risk: {tier: low, data_classes: [public], harms: [irrelevant results]}
    governance: {regions: [eu, us], roles: [operator]}
    slo: {latency_p95_ms: 800, error_rate_max: 0.01, quality_min: 0.8}
"""

CONTRACTS = """\
contracts:
  - {kind: demand, unit: rpm, min: 0, max: 100000, max_age_s: 900, lineage_required: true}
  - {kind: latency, unit: ms, min: 0, max: 600000, max_age_s: 3600, lineage_required: false}
  - {kind: error_rate, unit: ratio, min: 0, max: 1, max_age_s: 3600, lineage_required: false}
  - {kind: data_quality, unit: ratio, min: 0, max: 1, max_age_s: 3600, lineage_required: false}
  - {kind: cost, unit: usd_per_request, min: 0, max: 10, max_age_s: 3600, lineage_required: false}
"""

SIGNALS = """\
observed_at: 2026-11-26T12:00:00Z
signals:
  - {name: product-description.demand, kind: demand, feature: product-description, value: 120,
     unit: rpm, observed_at: 2026-11-26T11:58:00Z, source: gateway, lineage: [gateway.requests]}
"""

SCENARIO = """\
name: shop-canary
seed: 11
duration_s: 1800
warmup_s: 60
traffic: {rate_rps: 2}
service:
  concurrency: 8
  baseline: search-rewriter@1.0.0
  latency: {dist: lognormal, mean_s: 0.4, sigma: 0.3}
  error_rate: 0.002
  quality: 0.9
  versions:
    product-description@1.0.0:
      latency: {dist: lognormal, mean_s: 1.2, sigma: 0.3}
      error_rate: 0.002
      quality: 0.9
"""

# Healthy post-rollout samples per metric: (name, kind, unit, mean, sd).
METRICS = (
    ("latency_p95", "latency", "ms", 1800.0, 100.0),
    ("errors", "error_rate", "ratio", 0.004, 0.001),
    ("quality", "data_quality", "ratio", 0.88, 0.01),
    ("cost", "cost", "usd_per_request", 0.0009, 0.00003),
)


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "generate_catalog.py")
    for name in BUILD_INPUTS:
        p = ROOT / name
        if p.is_dir() and not p.is_symlink():
            shutil.copytree(p, src / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(p, src / name, follow_symlinks=False)
    out = tmp_path_factory.mktemp("dist")
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    print(f"\nwheel built in {time.perf_counter() - t:.1f} s")
    (whl,) = out.glob("jitplan-*.whl")
    return whl


def test_wheel_holds_one_package_with_every_module_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {n.split("/")[0] for n in names}
    assert tops == {"jitplan", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts:
                assert f"jitplan/{f.relative_to(ROOT).as_posix()}" in names, f
    assert any(n.startswith("jitplan/tools/policy_bundle/") and n.endswith(".rego") for n in names)
    for need in ("scenarios/world/catalog.yaml", "scenarios/sim/mm10.yaml",
                 "scenarios/sim/plans/canary_ticket_summarizer.json",
                 "scenarios/traces/azure-llm-inference-2023/conversation.csv",
                 "scenarios/traces/azure-llm-inference-2023/LICENSE"):
        assert f"jitplan/{need}" in names
    print(f"wheel size {wheel.stat().st_size / 1024:.0f} KiB")


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("venv") / "v"
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    py = where / "bin" / "python"
    t = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    # --no-compile: bytecode is written on first import instead of for every file of every
    # dependency at install time (most of the install time on a loaded machine)
    res = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile",
                          "-c", str(ROOT / "constraints.txt"), str(wheel)],
                         capture_output=True, text=True, timeout=1800, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    print(f"\nwheel installed with its dependencies in {time.perf_counter() - t:.1f} s")
    return where / "bin"


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """A user's project: its own contracts/, tools/, simulator/ and agent/ packages."""
    for name in PACKAGES:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(SHADOW.format(name=name))
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    (tmp_path / "contracts.yaml").write_text(CONTRACTS)
    (tmp_path / "signals.yaml").write_text(SIGNALS)
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    (tmp_path / "flags.json").write_text('{"flags": {}}\n')
    return tmp_path


def _env(bin_dir: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("JITPLAN_")}
    env.update(PATH=os.pathsep.join([str(bin_dir), env.get("PATH", "")]), JITPLAN_HOME=str(home),
               MPLBACKEND="Agg", LITELLM_LOCAL_MODEL_COST_MAP="True")
    return env


def _snapshot(feature: str, seed: int, stage_start: datetime) -> dict[str, Any]:
    """12 healthy samples per cohort, all observed after ``stage_start``."""
    rng = random.Random(seed)
    sigs = []
    for i in range(12):
        ts = (stage_start + timedelta(milliseconds=100 * (i + 1))).isoformat().replace("+00:00", "Z")
        for name, kind, unit, mu, sd in METRICS:
            for cohort in ("baseline", "canary", "all"):
                suffix = "" if cohort == "all" else f".{cohort}"
                lineage = ["gateway.requests"] + ([] if cohort == "all" else [f"cohort:{cohort}"])
                sigs.append({"name": f"{feature}.{name}{suffix}", "kind": kind, "feature": feature,
                             "value": round(max(0.0, rng.gauss(mu, sd)), 6), "unit": unit,
                             "observed_at": ts, "source": "gateway", "lineage": lineage})
    observed = (stage_start + timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
    return {"observed_at": observed, "signals": sigs}


def _apply_with_live_signals(cmd: list[str], cwd: Path, env: dict[str, str],
                             flags: Path, feed: Path) -> subprocess.CompletedProcess[str]:
    """Run ``apply --signals-dir feed`` and, after every change of the flags file (a stage
    began), drop a fresh healthy snapshot for the gate to judge."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = flags.read_bytes()
    n = 0
    deadline = time.monotonic() + 900
    while proc.poll() is None and time.monotonic() < deadline:
        now = flags.read_bytes() if flags.exists() else seen
        if now != seen:
            seen = now
            start = datetime.now(UTC)
            time.sleep(2.5)  # every sample after the stage began, none in the future
            n += 1
            path = feed / f"snapshot-{n:02d}.yaml"
            tmp = feed / f".snapshot-{n:02d}.yaml"
            tmp.write_text(yaml.safe_dump(_snapshot("product-description", n, start)))
            tmp.rename(path)
        time.sleep(0.2)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_installed_wheel_runs_the_job_from_a_foreign_folder(installed: Path, user_dir: Path) -> None:
    env = _env(installed, user_dir / ".jitplan")
    jp = str(installed / "jitplan")
    t0 = time.perf_counter()

    def ok(*args: str, codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        res = _run([jp, *args], user_dir, env)
        assert res.returncode in codes, f"jitplan {' '.join(args)} -> {res.returncode}\n{res.stderr[-3000:]}"
        assert "Traceback" not in res.stderr
        return res

    # the installed code is the wheel's, not this checkout's
    where = _run([str(installed / "python"), "-c", "import jitplan, sys; print(jitplan.__file__)"], user_dir, env)
    assert where.returncode == 0 and str(installed.parent) in where.stdout, where.stdout + where.stderr

    ok("catalog", "validate", "catalog.yaml")

    res = ok("plan", "--catalog", "catalog.yaml", "--signals", "signals.yaml", "--contracts", "contracts.yaml",
             "--state", "flags.json", "--as", "operator", "--region", "eu", "--out", "plan.json", "--json")
    doc = json.loads(res.stdout)
    assert doc["decision"] == "approved", doc["reasons"]
    policy = doc["policy"]
    assert policy["allowed"] is True and policy.get("error") is None and policy["bundle_sha256"]
    assert not any("policy not evaluated" in r for r in doc["reasons"])
    steps = doc["plan"]["steps"]
    assert {s["feature"] for s in steps} == {"product-description"}

    sim = ok("simulate", "scenario.yaml", "--plan", "plan.json", "--replications", "2", "--json", codes=(0, 1))
    sdoc = json.loads(sim.stdout)
    assert sdoc["replications"] == 2 and sdoc["verdict"]["plan"] == doc["plan"]["id"]

    feed = user_dir / "feed"
    feed.mkdir()
    flags = user_dir / "flags.json"
    before = flags.read_bytes()
    applied = _apply_with_live_signals(
        [jp, "apply", "plan.json", "--state", "flags.json", "--signals-dir", "feed",
         "--contracts", "contracts.yaml", "--as", "operator", "--region", "eu", "--json"],
        user_dir, env, flags, feed)
    assert applied.returncode == 0, applied.stderr[-3000:]
    assert json.loads(applied.stdout)["status"] in ("applied", "completed", "succeeded"), applied.stdout[-2000:]
    assert flags.read_bytes() != before and "product-description" in json.loads(flags.read_text())["flags"]

    audit = ok("audit", "verify", "--json")
    assert json.loads(audit.stdout)["first_broken_seq"] is None

    # examples and the Python API from the installed package, in the same foreign folder
    ok("examples", "ex")
    ok("simulate", "ex/scenarios/sim/mm10.yaml", "--replications", "2")
    script = user_dir / "study.py"
    script.write_text("from jitplan import simulator\n"
                      "res = simulator.run('ex/scenarios/sim/mm10.yaml', replications=2, workers=2)\n"
                      "print(type(res.to_frame()).__name__, len(res.to_frame()))\n")
    run = _run([str(installed / "python"), str(script)], user_dir, env)
    assert run.returncode == 0 and run.stdout.split() == ["DataFrame", "2"], run.stderr[-3000:]

    # the fast engine's kernels were built ahead of time into the venv (not this checkout), and
    # a new process runs them without importing numba
    if shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]):
        probe = _run([str(installed / "python"), "-c",
                      "import sys, jitplan.simulator as s\n"
                      "from jitplan.simulator import aot, compiled\n"
                      "s.run('ex/scenarios/sim/mm10.yaml', replications=1)\n"
                      "print(compiled.kernels().origin, 'numba' in sys.modules, aot.module_path(compiled.folder()))"],
                     user_dir, env)
        assert probe.returncode == 0, probe.stderr[-3000:]
        origin, numba_loaded, module = probe.stdout.split()
        assert (origin, numba_loaded) == ("aot", "False"), probe.stdout
        assert module.startswith(str(installed.parent)) and Path(module).is_file(), module
    print(f"\ncommands against the installed wheel took {time.perf_counter() - t0:.1f} s")


def _http(url: str, token: str | None = None) -> tuple[int, str, str]:
    """GET ``url`` (optionally with a bearer token): status, content type, body."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers.get("content-type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("content-type", ""), exc.read().decode()


def _console_url(proc: subprocess.Popen[str], timeout_s: float = 60) -> str:
    """The URL ``jitplan serve`` prints once it listens."""
    import re
    import selectors

    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if sel.select(timeout=0.2):
            found = re.search(r"(http://127\.0\.0\.1:(\d+))/", proc.stdout.readline())
            if found:
                break
    else:
        raise AssertionError(f"jitplan serve did not start (exit {proc.poll()})")
    import socket

    while time.monotonic() < deadline and proc.poll() is None:  # it prints once bound, then listens
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", int(found.group(2)))) == 0:
                return found.group(1)
        time.sleep(0.05)
    raise AssertionError(f"jitplan serve did not listen (exit {proc.poll()})")


def test_installed_wheel_serves_the_console(installed: Path, user_dir: Path) -> None:
    import secrets
    import signal

    env = _env(installed, user_dir / ".jitplan")
    jp = str(installed / "jitplan")
    t0 = time.perf_counter()
    token = secrets.token_urlsafe(32)
    hashed = subprocess.run([jp, "serve", "--hash-token"], input=token + "\n", cwd=user_dir, env=env,
                            capture_output=True, text=True, timeout=60)
    assert hashed.returncode == 0 and len(hashed.stdout.strip()) == 64, hashed.stderr[-2000:]
    (user_dir / "tokens.yaml").write_text(
        f'tokens:\n  - {{role: operator, region: eu, sha256: "{hashed.stdout.strip()}", name: wheel}}\n')
    proc = subprocess.Popen([jp, "serve", "--tokens", "tokens.yaml", "--host", "127.0.0.1", "--port", "0"],
                            cwd=user_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = _console_url(proc)
        status, _, _ = _http(f"{base}/api/cycles")
        assert status == 401
        status, ctype, body = _http(f"{base}/api/cycles", token)
        assert status == 200 and ctype.startswith("application/json") and json.loads(body) == []
        status, ctype, body = _http(f"{base}/login")
        assert status == 200 and ctype.startswith("text/html") and 'name="token"' in body
        for asset, kind in (("/static/console.css", "text/css"), ("/static/console.js", "javascript")):
            assert asset in body
            status, ctype, text = _http(base + asset)
            assert status == 200 and kind in ctype and text.strip(), asset
        status, ctype, body = _http(f"{base}/docs", token)
        assert status == 200 and "GET /api/cycles" in body and "https://" not in body
        status, _, body = _http(f"{base}/openapi.json", token)
        assert status == 200 and "/api/cycles/{thread_id}/decision" in json.loads(body)["paths"]
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)  # our own server, by PID; Ctrl-C exits 0
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        _out, err = proc.communicate()
    assert proc.returncode == 0 and "Traceback" not in err, err[-3000:]
    print(f"\nthe installed console served and stopped in {time.perf_counter() - t0:.1f} s")
