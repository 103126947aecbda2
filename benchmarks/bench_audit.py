"""Audit log, flag store and gate costs, measured in-process.

- audit append (SQLite, WAL, synchronous=FULL, one BEGIN IMMEDIATE transaction per record):
  records/s for one writer and for two concurrent processes; fsync-bound, so it depends on the
  disk. Target >= 40 records/s: a planning cycle writes ~15-20 records and their appends must
  take < 0.5 s in total.
- audit verify: records/s over the whole chain; target: 100k records verified in < 10 s
- flag store atomic write (temp, fsync, rename, fsync dir; plus the history archive, ~5 fsyncs):
  ms per write; target < 50 ms (one write per plan step)
- canary gate (Mann-Whitney U, numpy) on 2 x 1000 samples: ms per metric; target < 20 ms

    .venv/bin/python benchmarks/bench_audit.py [--records 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_WRITER = r"""
import sys, time
sys.path.insert(0, sys.argv[3])
from jitplan.tools.audit import AuditLog
log = AuditLog.open(sys.argv[1])
for i in range(int(sys.argv[2])):
    log.append("bench", {"i": i, "pid": sys.argv[4]}, thread_id=sys.argv[4], key=f"{sys.argv[4]}:{i}")
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    args = ap.parse_args()
    n = args.records

    import numpy as np

    from jitplan.contracts.state import DeploymentState, FeatureState
    from jitplan.tools.audit import AuditLog
    from jitplan.tools.flags import FlagStore
    from jitplan.tools.gate import GateConfig, compare_metric

    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        log = AuditLog.open(str(t / "one.db"))
        t0 = time.perf_counter()
        for i in range(n):
            log.append("bench", {"i": i, "note": "x" * 200}, thread_id="t", key=f"k{i}")
        dt = time.perf_counter() - t0
        out["audit_append_records_per_s_1_writer"] = round(n / dt, 1)
        t0 = time.perf_counter()
        rep = log.verify()
        dv = time.perf_counter() - t0
        assert rep.ok
        out["audit_verify_records_per_s"] = round(n / dv, 1)
        log.close()

        db = t / "two.db"
        AuditLog.open(str(db)).close()
        t0 = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(db), str(n // 2), str(ROOT), name])
                 for name in ("A", "B")]
        for p in procs:
            p.wait()
        d2 = time.perf_counter() - t0
        two = AuditLog.open(str(db))
        assert two.verify().ok and len(two.records()) == 2 * (n // 2)
        out["audit_append_records_per_s_2_processes_incl_startup"] = round(2 * (n // 2) / d2, 1)

        store = FlagStore(t / "flags.json")
        base = {f"f{i}": FeatureState(version="1.0.0", known_versions=["1.0.0", "1.1.0"]) for i in range(50)}
        store.write(DeploymentState(features=base))
        times = []
        for i in range(200):
            st = DeploymentState(features={**base, "f0": FeatureState(version="1.0.0", known_versions=["1.0.0", "1.1.0"],
                                                                       canary_version="1.1.0", canary_weight=1 + i % 99)})
            t0 = time.perf_counter()
            store.write(st)
            times.append(time.perf_counter() - t0)
        out["flag_write_ms_median_50_flags"] = round(statistics.median(times) * 1000, 3)
        out["flag_write_ms_p95_50_flags"] = round(sorted(times)[int(0.95 * len(times))] * 1000, 3)

    rng = np.random.default_rng(0)
    a, b = rng.normal(1000, 50, 1000).tolist(), rng.normal(1010, 50, 1000).tolist()
    cfg = GateConfig()
    gt = []
    for _ in range(50):
        t0 = time.perf_counter()
        compare_metric("latency_p95_ms", a, b, cfg)
        gt.append(time.perf_counter() - t0)
    out["gate_ms_per_metric_2x1000_samples"] = round(statistics.median(gt) * 1000, 3)
    targets = {
        "audit_append_records_per_s_1_writer": ("min", 40),
        "audit_verify_records_per_s": ("min", 10_000),
        "flag_write_ms_median_50_flags": ("max", 50),
        "gate_ms_per_metric_2x1000_samples": ("max", 20),
    }
    ok = True
    for k, (kind, target) in targets.items():
        v = float(out[k])  # type: ignore[arg-type]
        met = v >= target if kind == "min" else v <= target
        ok &= met
        out[f"{k}_target"] = f"{'>=' if kind == 'min' else '<='} {target}: {'met' if met else 'MISSED'}"
    print(json.dumps(out, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
