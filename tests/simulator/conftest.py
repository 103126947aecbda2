"""Builders shared by the simulator tests, exposed as fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.plan import Plan
from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic, VersionProfile

ROOT = Path(__file__).resolve().parents[2]
SIM = ROOT / "scenarios" / "sim"


def mmc(lam: float, mu: float, c: int, n: int, seed: int = 1, **kw: Any) -> Scenario:
    """A plain M/M/c scenario of ``n`` requests (5 % warm-up)."""
    return Scenario(
        name=f"mm{c}",
        seed=seed,
        requests=n,
        warmup_requests=n // 20,
        traffic=Traffic(rate_rps=lam),
        service=Service(concurrency=c, latency=Latency(mean_s=1.0 / mu)),
        **kw,
    )


def canary_scenario(candidate_mean_s: float = 0.5, **kw: Any) -> Scenario:
    """api@1 (baseline, 0.5 s) and api@2 (``candidate_mean_s``) on 40 slots at 20 rps."""
    base: dict[str, Any] = {
        "name": "canary",
        "seed": 3,
        "duration_s": 3000.0,
        "warmup_s": 60.0,
        "traffic": Traffic(rate_rps=20),
        "service": Service(
            concurrency=40,
            baseline="api@1",
            latency=Latency(mean_s=0.5),
            error_rate=0.001,
            usd_per_request=0.001,
            quality=0.9,
            versions={
                "api@2": VersionProfile(
                    latency=Latency(mean_s=candidate_mean_s),
                    error_rate=0.001,
                    usd_per_request=0.001,
                    quality=0.9,
                )
            },
        ),
    }
    base.update(kw)
    return Scenario(**base)


def canary_plan(p95_ms: float = 2500.0, window_s: float = 600.0) -> Plan:
    """5 % then 50 % canary of api@2 gated on p95 and error rate, then promote."""
    tol = [
        {"metric": "latency_p95_ms", "comparator": "<=", "threshold": p95_ms, "window_s": window_s},
        {"metric": "error_rate", "comparator": "<=", "threshold": 0.05, "window_s": window_s},
    ]
    undo = {"id": "undo", "action": "rollback", "feature": "api"}
    return Plan.model_validate(
        {
            "id": "canary-api-2",
            "goal": "roll out api 2",
            "steps": [
                {
                    "id": "c5",
                    "action": "canary",
                    "feature": "api",
                    "version": "2",
                    "params": {"weight": 5},
                    "tolerances": tol,
                    "compensation": undo,
                },
                {
                    "id": "c50",
                    "action": "canary",
                    "feature": "api",
                    "version": "2",
                    "params": {"weight": 50},
                    "tolerances": tol,
                    "compensation": undo,
                },
                {
                    "id": "promote",
                    "action": "promote",
                    "feature": "api",
                    "version": "2",
                    "tolerances": tol,
                    "compensation": undo,
                },
            ],
        }
    )


TINY_YAML = """\
name: tiny
seed: 3
requests: 200
traffic: {arrival: poisson, rate_rps: 5}
service: {concurrency: 4, latency: {dist: exponential, mean_s: 0.5}}
"""
"""The sweep tests' small scenario, as a file (``scenario_file``)."""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    """``TINY_YAML`` written to ``tmp_path/tiny.yaml``."""
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY_YAML, encoding="utf-8")
    return p


@pytest.fixture(name="mmc")
def _mmc() -> Callable[..., Scenario]:
    return mmc


@pytest.fixture(name="canary_scenario")
def _canary_scenario() -> Callable[..., Scenario]:
    return canary_scenario


@pytest.fixture(name="canary_plan")
def _canary_plan() -> Callable[..., Plan]:
    return canary_plan
