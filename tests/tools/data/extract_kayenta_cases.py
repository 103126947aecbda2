"""Regenerate ``kayenta_classifier_cases.yaml`` from Kayenta's test sources (numbers only).

    git -C KAYENTA show COMMIT:kayenta-judge/src/test/scala/com/netflix/kayenta/judge/ClassifierSuite.scala > suite.scala
    python tests/tools/data/extract_kayenta_cases.py suite.scala COMMIT [MW_COMMIT] > tests/tools/data/kayenta_classifier_cases.yaml

(``MW_COMMIT``: the kayenta commit whose MannWhitneySuite.scala holds the 4-vs-4 interval case.)

Each ``test("...") { ... }`` block yields its two arrays, the classifier's settings, the direction,
the NaN strategy, whether the metric is critical, and what the test asserts. How each case maps
onto jitplan's gate is added by ``MAPPING`` below (kept in the YAML next to the numbers).
"""

from __future__ import annotations

import re
import sys

import yaml

PATH = "kayenta-judge/src/test/scala/com/netflix/kayenta/judge/ClassifierSuite.scala"

# Kayenta's label -> our verdict per harm direction (higher_is_worse / lower_is_worse).
NOT_BLOCKING = ["pass", "marginal"]
EXPECT = {
    "High": {"higher_is_worse": ["fail"], "lower_is_worse": ["pass"]},
    "Low": {"higher_is_worse": ["pass"], "lower_is_worse": ["fail"]},
    "Pass": {"higher_is_worse": NOT_BLOCKING, "lower_is_worse": NOT_BLOCKING},
    "Nodata": {"higher_is_worse": ["inconclusive"], "lower_is_worse": ["inconclusive"]},
    None: {"higher_is_worse": ["inconclusive"], "lower_is_worse": ["inconclusive"]},
}
DIRECTIONS = {"Either": ["higher_is_worse", "lower_is_worse"], "Increase": ["higher_is_worse"],
              "Decrease": ["lower_is_worse"]}
NOTES = {
    "Mann-Whitney Missing Experiment Data with NaN Replacement": (
        "Kayenta-only setting: NaNStrategy.Replace turns the missing canary data into zeros and passes. "
        "jitplan never treats missing data as a measurement (deny by default), so the mapped verdict is "
        "inconclusive: the stage waits for samples, then pauses for a human."),
    "Mann-Whitney Zero Mean: Critical Metric": (
        "NaNStrategy.Replace has no effect here (both cohorts have data); critical only marks the failure."),
    "Mann-Whitney Missing Data: Reason String": "Kayenta asserts a non-empty reason; ours must name the metric.",
}


def _array(body: str, name: str) -> list[float]:
    m = re.search(rf"val {name}\s*=\s*Array(?:\[Double\])?\((.*?)\)", body, re.S)
    if m is None:
        raise ValueError(f"no {name}")
    return [float(x) for x in re.split(r"[,\s]+", m.group(1)) if x.strip()]


def _settings(body: str) -> dict[str, object]:
    m = re.search(r"new (MannWhitneyClassifier|MeanInequalityClassifier)\((.*?)\)\n", body, re.S)
    assert m is not None
    out: dict[str, object] = {"classifier": m.group(1)}
    for k, v in re.findall(r"(\w+)\s*=\s*(\([^)]*\)|\"[^\"]*\"|[\d.]+)", m.group(2)):
        if v.startswith("("):
            out[k] = [float(x) for x in v.strip("()").split(",")]
        elif v.startswith('"'):
            out[k] = v.strip('"')
        else:
            out[k] = float(v)
    return out


def _expect(name: str, label: object, direction: str) -> dict[str, list[str]]:
    if "NaN Replacement" in name:
        label = "Nodata"
    return {d: list(EXPECT[label][d]) for d in DIRECTIONS[direction]}  # type: ignore[index]


def cases(text: str) -> list[dict[str, object]]:
    out = []
    for m in re.finditer(r'test\("([^"]+)"\)\s*\{(.*?)\n  \}', text, re.S):
        name, body = m.group(1), m.group(2)
        call = re.search(r"classify\((.*?)\)\n", body, re.S)
        assert call is not None
        args = call.group(1)
        asserted: dict[str, object] = {}
        cls = re.search(r"result\.classification == (\w+)", body)
        if cls:
            asserted["classification"] = cls.group(1)
        if "assert(result.critical)" in body:
            asserted["critical"] = True
        if "assert(!result.critical)" in body:
            asserted["critical"] = False
        if "result.deviation.isNaN" in body:
            asserted["deviation_is_nan"] = True
        dev = re.search(r"result\.deviation == ([\d.]+)", body)
        if dev:
            asserted["deviation"] = float(dev.group(1))
        if "reason should not be empty" in body:
            asserted["reason_not_empty"] = True
        nan = re.search(r"NaNStrategy\.(\w+)", args)
        note = NOTES.get(name)
        out.append({
            "name": name,
            **({"note": note} if note else {}),
            **_settings(body),
            "direction": re.search(r"MetricDirection\.(\w+)", args).group(1),  # type: ignore[union-attr]
            "nan_strategy": nan.group(1) if nan else "Remove",
            "critical_metric": "isCriticalMetric = true" in args,
            "asserts": asserted,
            "expect": _expect(name, asserted.get("classification"), re.search(r"MetricDirection\.(\w+)", args).group(1)),  # type: ignore[union-attr]
            "experiment": _array(body, "experimentData"),
            "control": _array(body, "controlData"),
        })
    return out


MAPPING = {
    "verdicts": (
        "Kayenta labels a metric High, Low, Pass or Nodata; our gate judges one harm direction. A case with "
        "direction Either runs twice (higher_is_worse and lower_is_worse), Increase runs as higher_is_worse, "
        "Decrease as lower_is_worse. High means fail where higher is worse and pass (an improvement) where lower "
        "is worse; Low the reverse; Pass means the rollout continues (pass, or marginal: continue with the numbers "
        "recorded); Nodata means inconclusive (the stage waits, then pauses)."),
    "confidence": (
        "Kayenta's confLevel is a two-sided interval (High needs its lower bound above a margin), i.e. a one-sided "
        "test at (1 - confLevel) / 2; our gate runs one-sided tests, so confidence = 1 - (1 - confLevel) / 2."),
    "tolerance": (
        "Kayenta's estimate-relative tolerance (a margin of tolerance * |Hodges-Lehmann estimate| on the interval) "
        "is Kayenta-only; its effect-size thresholds on the mean ratio are what bounds the size of a change, like "
        "our tolerance on the relative change of the means: tolerance = upper - 1 where higher is worse, 1 - lower "
        "where lower is worse (the default (1.0, 1.0) maps to 0). CLES thresholds have no counterpart (the rank "
        "test already measures how often the canary is worse); those cases run with tolerance 0."),
    "min_samples": "Kayenta has no minimum cohort size: cases run with min_samples = 2 (our lowest).",
    "critical": "Kayenta's critical flag only marks which failures end a canary; every failure of ours compensates.",
    "mean_inequality": "MeanInequalityClassifier cases run with our default settings (min_samples = 2).",
}

EXTRA = [{
    "name": "Mann-Whitney Confidence Interval & Estimate (4 vs 4, classified)",
    "source": {"repo": "spinnaker/kayenta",
               "path": "kayenta-mannwhitney/src/test/scala/com/netflix/kayenta/mannwhitney/MannWhitneySuite.scala",
               "commit": None},
    "note": ("MannWhitneySuite asserts the 95% interval [6.0, 39.0] and estimate 22.5 for these numbers; "
             "MannWhitneyClassifier's rule (lower bound 6.0 > 0.10 * |22.5| = 2.25, effect size 10.0 >= 1.0) "
             "makes that High. Exact one-sided p = 1/70 = 0.014."),
    "classifier": "MannWhitneyClassifier", "tolerance": 0.1, "confLevel": 0.95, "direction": "Either",
    "nan_strategy": "Remove", "critical_metric": False, "asserts": {"classification": "High"},
    "expect": {"higher_is_worse": ["fail"], "lower_is_worse": ["pass"]},
    "experiment": [10.0, 20.0, 30.0, 40.0], "control": [1.0, 2.0, 3.0, 4.0],
}]

if __name__ == "__main__":
    from pathlib import Path

    text = Path(sys.argv[1]).read_text()
    extra = [dict(c, source=dict(c["source"], commit=sys.argv[3])) for c in EXTRA] if len(sys.argv) > 3 else []
    doc = {"source": {"repo": "spinnaker/kayenta", "path": PATH, "commit": sys.argv[2]}, "mapping": MAPPING,
           "cases": cases(text) + extra}
    yaml.safe_dump(doc, sys.stdout, sort_keys=False, width=120, default_flow_style=None)
