"""Seeded canary/baseline cohort samples for `jitplan apply` demos: a static snapshot, or a live feed.

    python scenarios/make_canary_snapshots.py FEATURE OUT.yaml healthy|regressed
    python scenarios/make_canary_snapshots.py --feed DIR --flags FLAGS.json FEATURE healthy|regressed [--seconds S]

Static: each metric gets 12 one-minute samples per cohort (`<feature>.<metric>.baseline|canary`)
and the all-traffic series (`<feature>.<metric>`) served by the new version.

Feed: stands in for a metrics pipeline during `jitplan apply --signals-dir DIR`. It watches the
feature in FLAGS.json; whenever its state changes (a rollout stage began) it scrapes once:
8 new samples per series, stamped with the current time, written atomically to DIR/live.json
(the previous stage's samples stay in the file, older than the stage, so the gate must skip
them). The samples of stage k come from a generator seeded by (scenario, k), so a run's numbers
do not depend on timing. It stops after --seconds (default 120) or when killed.
"""
import argparse
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml

SPECS = [  # metric name, kind, unit, baseline mean, sd, canary mean (healthy), canary mean (regressed)
    ("latency_p95", "latency", "ms", 1800.0, 120.0, 1790.0, 2900.0),
    ("errors", "error_rate", "ratio", 0.004, 0.001, 0.004, 0.009),
    ("quality", "data_quality", "ratio", 0.86, 0.01, 0.865, 0.81),
    ("cost", "cost", "usd_per_request", 0.0006, 0.00003, 0.00061, 0.00062),
]


def samples(feature: str, rng: np.random.Generator, regressed: bool, times: list[str]) -> list[dict[str, Any]]:
    sigs = []
    for ts in times:
        for name, kind, unit, base, sd, good, bad in SPECS:
            for cohort, mu in (("baseline", base), ("canary", bad if regressed else good), ("all", bad if regressed else good)):
                v = max(0.0, float(rng.normal(mu, sd)))
                suffix = "" if cohort == "all" else f".{cohort}"
                lineage = ["gateway.requests"] + ([] if cohort == "all" else [f"cohort:{cohort}"])
                sigs.append({"name": f"{feature}.{name}{suffix}", "kind": kind, "feature": feature,
                             "value": round(v, 6), "unit": unit, "observed_at": ts, "source": "gateway-metrics",
                             "lineage": lineage})
    return sigs


def snapshot(feature: str, seed: int, regressed: bool) -> dict[str, Any]:
    times = [f"2026-11-26T12:{10 + i:02d}:00Z" for i in range(12)]
    return {"observed_at": "2026-11-26T12:22:00Z",
            "signals": samples(feature, np.random.default_rng(seed), regressed, times)}


def _stamp(t: datetime) -> str:
    return t.isoformat(timespec="microseconds").replace("+00:00", "Z")


def feed(directory: Path, flags: Path, feature: str, regressed: bool, seconds: float, per_stage: int = 8) -> None:
    from jitplan.tools.flags import FlagStore

    store = FlagStore(flags)
    directory.mkdir(parents=True, exist_ok=True)
    seen: str | None = None
    stage = 0
    kept: list[dict[str, Any]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        fs = store.read().features.get(feature)
        key = fs.model_dump_json() if fs is not None else ""
        if key != seen:  # a stage began: scrape once, after it
            seen, stage = key, stage + 1
            now = datetime.now(UTC)
            times = [_stamp(now + timedelta(microseconds=i)) for i in range(per_stage)]
            rng = np.random.default_rng([7 if regressed else 3, stage])
            kept = kept[-len(SPECS) * 3 * per_stage:] + samples(feature, rng, regressed, times)
            tmp = directory / ".live.json.tmp"  # hidden: the folder source ignores it
            tmp.write_text(json.dumps({"observed_at": _stamp(datetime.now(UTC)), "signals": kept}))
            os.replace(tmp, directory / "live.json")
        time.sleep(0.05)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feed", metavar="DIR", type=Path)
    ap.add_argument("--flags", metavar="FLAGS.json", type=Path)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("args", nargs="+")
    a = ap.parse_args()
    if a.feed:
        feature, scenario = a.args
        if a.flags is None:
            ap.error("--feed needs --flags")
        feed(a.feed, a.flags, feature, scenario == "regressed", a.seconds)
    else:
        feature, out, scenario = a.args
        with open(out, "w") as fh:
            regressed = scenario == "regressed"
            yaml.safe_dump(snapshot(feature, 7 if regressed else 3, regressed), fh, sort_keys=False, width=200)
