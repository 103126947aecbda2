"""Every case Kayenta's ClassifierSuite asserts, through our gate (numbers and mapping in the data file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from jitplan.tools.gate import GateConfig, compare_metric

DATA = yaml.safe_load((Path(__file__).parent / "data" / "kayenta_classifier_cases.yaml").read_text())
CASES = [(c, d) for c in DATA["cases"] for d in c["expect"]]


def _config(case: dict[str, Any], higher_is_worse: bool) -> GateConfig:
    """The mapping recorded in the data file (``mapping``): confidence, tolerance, min_samples."""
    if case["classifier"] == "MeanInequalityClassifier":
        return GateConfig(min_samples=2)
    lower, upper = case.get("effectSizeThresholds", [1.0, 1.0])
    if case.get("effectSizeMeasure") == "cles":
        tolerance = 0.0
    else:
        tolerance = max(0.0, upper - 1.0) if higher_is_worse else max(0.0, 1.0 - lower)
    return GateConfig(confidence=1 - (1 - case["confLevel"]) / 2, tolerance=tolerance, min_samples=2)


def test_the_data_names_its_source_and_covers_the_suite() -> None:
    src = DATA["source"]
    assert src["repo"] == "spinnaker/kayenta" and src["path"].endswith("ClassifierSuite.scala")
    assert len(src["commit"]) == 40
    suite = [c for c in DATA["cases"] if "source" not in c]
    assert len(suite) == 37  # every test() block of ClassifierSuite.scala at that commit
    assert {c["asserts"].get("classification") for c in suite} == {"Pass", "High", "Low", "Nodata", None}
    assert all(c.get("note") for c in suite if c["nan_strategy"] == "Replace")


@pytest.mark.parametrize(("case", "direction"), CASES, ids=[f"{c['name']} [{d}]" for c, d in CASES])
def test_kayenta_case_agrees_with_our_gate(case: dict[str, Any], direction: str) -> None:
    hi = direction == "higher_is_worse"
    got = compare_metric("kayenta-metric", case["experiment"], case["control"], _config(case, hi), higher_is_worse=hi)
    assert got.verdict in case["expect"][direction], got.reason
    assert got.reason.startswith("kayenta-metric: ")  # a gate message names its metric


def test_issue_cases_with_default_settings() -> None:
    """The two cases of issue 11, judged with our defaults (not the Kayenta mapping)."""
    large = next(c for c in DATA["cases"] if c["name"] == "Mann-Whitney Classifier Test: High Metric (Large Input)")
    x, y = large["experiment"], large["control"]
    assert (sum(v > 0 for v in x), sum(v > 0 for v in y), len(x), len(y)) == (64, 17, 210, 210)
    got = compare_metric("error_rate", x, y, GateConfig())
    assert got.canary_median == got.baseline_median == 0
    assert got.p_value == pytest.approx(1.4e-9, rel=0.05)
    assert got.verdict == "fail"  # the median gate said "marginal": 0% change
    four = next(c for c in DATA["cases"] if c["name"].startswith("Mann-Whitney Confidence Interval & Estimate"))
    got = compare_metric("latency_p95_ms", four["experiment"], four["control"], GateConfig())
    assert got.verdict == "fail" and got.p_value == pytest.approx(1 / 70)
