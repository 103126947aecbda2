"""Writing results: the summary table, the per-tick CSV and the PNG plot (``--out DIR``)."""

from __future__ import annotations

__all__ = ["ProgressBar", "summary_table", "write_outputs"]

import csv
import math
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from jitplan.simulator.result import METRIC_NAMES, SimResult


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "-"
    if x == int(x) and abs(x) < 1e12:
        return f"{int(x):,}"
    return f"{x:.4g}"


def summary_table(res: SimResult) -> str:
    """A readable multi-line summary (metrics with CI, verdict, timeline)."""
    reps = len(res.replications)
    lines = [
        f"scenario {res.scenario}  engine {res.engine}  seed {res.seed}  replications {reps}",
        "",
    ]
    ci = res.ci95
    lines.append(f"  {'metric':<16} {'value':>14}  {'± 95% CI' if reps > 1 else ''}")
    for m in METRIC_NAMES:
        v = res.metrics[m]
        extra = f"± {_fmt(ci[m])}" if reps > 1 else ""
        lines.append(f"  {m:<16} {_fmt(v):>14}  {extra}")
    verdict = res.verdict
    if verdict is not None:
        lines += [
            "",
            f"verdict: {verdict['status'].upper()} (plan {verdict['plan']}, "
            f"pass rate {verdict['pass_rate']:.0%})",
        ]
        for b in verdict["breaches"][:20]:
            obs = "no data" if b["observed"] is None else f"{b['observed']:.4g}"
            lines.append(
                f"  breach r{b['replication']} {b['step']}: {b['metric']} "
                f"{b['comparator']} {b['threshold']:g} (observed {obs})"
            )
        lines += [f"  {r}" for r in verdict["reasons"][:10]]
    if res.timeline:
        lines += ["", "timeline (replication 0):"]
        for e in res.timeline[:40]:
            d = e.to_dict()
            rest = " ".join(f"{k}={d[k]}" for k in sorted(d) if k not in ("t_s", "kind"))
            lines.append(f"  {e.t:>10.1f}s  {e.kind:<20} {rest}")
        if len(res.timeline) > 40:
            lines.append(f"  … {len(res.timeline) - 40} more")
    return "\n".join(lines)


def write_outputs(res: SimResult, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``result.json``, ``timeseries.csv`` and ``timeseries.png`` into ``out_dir``."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    paths = [d / "result.json", d / "timeseries.csv", d / "timeseries.png"]
    _atomic_write(paths[0], res.to_json() + "\n")
    cols, rows = res.series()
    tmp = paths[1].with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for row in rows.tolist():
            w.writerow(["" if math.isnan(x) else f"{x:.9g}" for x in row])
    os.replace(tmp, paths[1])
    _plot(res, paths[2])
    return paths


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _plot(res: SimResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols, rows = res.series()
    c = {name: i for i, name in enumerate(cols)}
    t = rows[:, c["t_s"]] / 3600.0
    fig, axes = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    axes[0].plot(t, rows[:, c["latency_p95_s"]], label="p95", lw=0.8)
    axes[0].plot(t, rows[:, c["latency_mean_s"]], label="mean", lw=0.8)
    axes[0].set_ylabel("latency (s)")
    axes[0].legend(loc="upper right")
    axes[1].plot(t, rows[:, c["error_rate"]], color="tab:red", lw=0.8)
    axes[1].set_ylabel("error rate")
    axes[2].step(t, rows[:, c["canary_weight"]], where="post", color="tab:green")
    axes[2].set_ylabel("canary weight (%)")
    axes[2].set_xlabel("time (h)")
    for e in res.timeline:
        if e.kind in ("rollback", "gate_failed", "fault_started"):
            for ax in axes:
                ax.axvline(e.t / 3600.0, color="grey", ls=":", lw=0.8)
    fig.suptitle(f"{res.scenario} ({res.engine} engine, seed {res.seed})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


class ProgressBar:
    """A throttled text progress bar on a stream (stderr by default)."""

    def __init__(
        self, label: str, stream: TextIO | None = None, min_interval_s: float = 0.2
    ) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self._shown = False

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._last < self.min_interval_s and fraction < 1.0:
            return
        self._last = now
        f = min(max(fraction, 0.0), 1.0)
        filled = int(f * 30)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {f:6.1%}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
