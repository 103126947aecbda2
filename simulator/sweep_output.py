"""Writing a sweep: ``sweep.csv`` (and ``sweep.parquet`` with pyarrow), one PNG per metric.

The CSV is deterministic: floats as ``%.9g``, NaN (a CI from one replication) as an empty cell;
the same scenario, grid and seed give the same bytes on every backend.
"""

from __future__ import annotations

__all__ = ["UNITS", "unit_of", "write_sweep"]

import csv
import importlib.util
import io
import math
import os
from pathlib import Path

from jitplan.simulator.result import METRIC_NAMES
from jitplan.simulator.sweep import SweepResult

UNITS: dict[str, str] = {
    "requests": "requests",
    "throughput_rps": "requests/s",
    "utilization": "fraction",
    "error_rate": "fraction",
    "cost_usd": "USD",
    "quality_mean": "score 0–1",
    "retries": "retries",
}


def unit_of(name: str) -> str:
    """The unit of a metric or a scenario field, from its name (``_s`` seconds, ``_rps`` ...)."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf in UNITS:
        return UNITS[leaf]
    for suffix, unit in (("_s", "s"), ("_rps", "requests/s"), ("_usd", "USD"), ("_rate", "fraction")):
        if leaf.endswith(suffix):
            return unit
    return {"concurrency": "slots", "max_retries": "retries", "requests": "requests"}.get(leaf, "")


def _cell(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.9g}"


def csv_text(res: SweepResult) -> str:
    """The sweep table as CSV text (one row per grid point)."""
    cols, rows = res.rows()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for row in rows:
        w.writerow([str(int(row[0])), *(_cell(x) for x in row[1:])])
    return buf.getvalue()


def write_sweep(res: SweepResult, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``sweep.csv``, ``sweep.parquet`` (when pyarrow is importable) and
    ``<metric>.png`` per metric into ``out_dir``; return the paths written."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    paths = [d / "sweep.csv"]
    tmp = d / "sweep.csv.tmp"
    tmp.write_text(csv_text(res), encoding="utf-8")
    os.replace(tmp, paths[0])
    if importlib.util.find_spec("pyarrow") is not None:
        paths.append(_parquet(res, d / "sweep.parquet"))
    paths += _plots(res, d)
    return paths


def _parquet(res: SweepResult, path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols, rows = res.rows()
    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    data["point"] = [int(x) for x in data["point"]]
    pq.write_table(pa.table(data), path)
    return path


def _plots(res: SweepResult, d: Path) -> list[Path]:
    """One PNG per metric against the first axis; one line (with its CI band) per combination
    of the other axes (a random design: every point with its CI95 error bar)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_axis = res.axes[0]
    others = res.axes[1:] if res.design == "grid" else ()  # random points share no grid lines
    groups: dict[tuple[float, ...], list[int]] = {}
    for k, p in enumerate(res.points):
        groups.setdefault(tuple(p.params[a.path] for a in others), []).append(k)
    x_unit = unit_of(x_axis.path)
    paths = []
    for m in METRIC_NAMES:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for key, idx in groups.items():
            if res.design == "random":  # scattered points: no line, error bars
                idx = sorted(idx, key=lambda k: res.points[k].params[x_axis.path])
                xs = [res.points[k].params[x_axis.path] for k in idx]
                ys = [res.points[k].result.metrics[m] for k in idx]
                err = [0.0 if math.isnan(c) else c for c in (res.points[k].result.ci95[m] for k in idx)]
                ax.errorbar(xs, ys, yerr=err, fmt="o", ms=3, capsize=2, label="mean ± CI95 (random design)")
                continue
            xs = [res.points[k].params[x_axis.path] for k in idx]
            ys = [res.points[k].result.metrics[m] for k in idx]
            cis = [res.points[k].result.ci95[m] for k in idx]
            label = ", ".join(f"{a.path}={v:g}" for a, v in zip(others, key, strict=True))
            (line,) = ax.plot(xs, ys, marker="o", ms=3, label=label or "mean")
            lo = [y - (0.0 if math.isnan(c) else c) for y, c in zip(ys, cis, strict=True)]
            hi = [y + (0.0 if math.isnan(c) else c) for y, c in zip(ys, cis, strict=True)]
            ax.fill_between(xs, lo, hi, alpha=0.25, color=line.get_color())
        ax.set_xlabel(f"{x_axis.path} ({x_unit})" if x_unit else x_axis.path)
        unit = unit_of(m)
        ax.set_ylabel(f"{m} ({unit})" if unit else m)
        ax.set_title(
            f"{res.scenario}: {m} vs {x_axis.path}\n"
            f"mean ± 95% CI over {res.replications} replications, seed {res.seed}"
            + (f", {len(res.points)} random points" if res.design == "random" else "")
        )
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        path = d / f"{m}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths
