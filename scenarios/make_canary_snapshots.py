"""Seeded post-rollout snapshots with canary/baseline cohort samples (for `jitplan apply` demos).

    python scenarios/make_canary_snapshots.py FEATURE OUT.yaml healthy|regressed

Each metric gets 12 one-minute samples per cohort (`<feature>.<metric>.baseline|canary`) and,
for gates after a promote, the all-traffic series (`<feature>.<metric>`) served by the new version.
"""
import sys

import numpy as np
import yaml


def snapshot(feature: str, seed: int, regressed: bool) -> dict:
    rng = np.random.default_rng(seed)
    sigs = []
    specs = [  # metric name, kind, unit, baseline mean, sd, canary mean (healthy), canary mean (regressed)
        ("latency_p95", "latency", "ms", 1800.0, 120.0, 1790.0, 2900.0),
        ("errors", "error_rate", "ratio", 0.004, 0.001, 0.004, 0.009),
        ("quality", "data_quality", "ratio", 0.86, 0.01, 0.865, 0.81),
        ("cost", "cost", "usd_per_request", 0.0006, 0.00003, 0.00061, 0.00062),
    ]
    for i in range(12):
        ts = f"2026-11-26T12:{10 + i:02d}:00Z"
        for name, kind, unit, base, sd, good, bad in specs:
            for cohort, mu in (("baseline", base), ("canary", bad if regressed else good), ("all", bad if regressed else good)):
                v = max(0.0, float(rng.normal(mu, sd)))
                suffix = "" if cohort == "all" else f".{cohort}"
                lineage = ["gateway.requests"] + ([] if cohort == "all" else [f"cohort:{cohort}"])
                sigs.append({"name": f"{feature}.{name}{suffix}", "kind": kind, "feature": feature,
                             "value": round(v, 6), "unit": unit, "observed_at": ts, "source": "gateway-metrics",
                             "lineage": lineage})
    return {"observed_at": "2026-11-26T12:22:00Z", "signals": sigs}

if __name__ == "__main__":
    feature, out, regressed = sys.argv[1], sys.argv[2], sys.argv[3] == "regressed"
    with open(out, "w") as fh:
        yaml.safe_dump(snapshot(feature, 7 if regressed else 3, regressed), fh, sort_keys=False, width=200)
