"""``jitplan sweep`` and ``simulator.sweep``: grid parsing, bad params, CSV determinism, plots."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from jitplan.agent.cli import main
from jitplan.contracts.errors import UserError
from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic
from jitplan.simulator import run
from jitplan.simulator.result import METRIC_NAMES
from jitplan.simulator.sweep import SweepAxis, apply_params, parse_axis, sweep
from jitplan.simulator.sweep_output import csv_text, unit_of


def _tiny() -> Scenario:
    return Scenario(
        name="tiny", seed=3, requests=200, traffic=Traffic(rate_rps=5),
        service=Service(concurrency=4, latency=Latency(mean_s=0.5)),
    )


def test_range_gives_n_evenly_spaced_points_including_both_ends() -> None:
    ax = parse_axis("traffic.rate_rps=100:2000:20")
    assert ax.path == "traffic.rate_rps"
    assert len(ax.values) == 20
    assert ax.values[0] == 100 and ax.values[-1] == 2000
    steps = {round(b - a, 9) for a, b in zip(ax.values, ax.values[1:], strict=False)}
    assert steps == {100.0}
    assert parse_axis("service.concurrency=2,4,8").values == (2.0, 4.0, 8.0)
    assert parse_axis("traffic.rate_rps=7:9:1").values == (7.0,)


@pytest.mark.parametrize(
    "spec", ["traffic.rate_rps", "=1:2:3", "traffic.rate_rps=1:2", "traffic.rate_rps=1:2:0",
             "traffic.rate_rps=a:2:3", "traffic.rate_rps=1:2:x", "traffic.rate_rps=nan"],
)
def test_malformed_specs_are_user_errors_naming_param(spec: str) -> None:
    with pytest.raises(UserError) as exc:
        parse_axis(spec)
    assert exc.value.source == "--param"


def test_apply_params_sets_nested_fields_and_keeps_ints() -> None:
    sc = apply_params(_tiny(), {"traffic.rate_rps": 7.5, "service.concurrency": 6.0})
    assert sc.traffic.rate_rps == 7.5
    assert sc.service.concurrency == 6 and isinstance(sc.service.concurrency, int)
    assert sc.service.latency.mean_s == 0.5  # untouched


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"traffic.rate_rpz": 1.0}, "traffic.rate_rpz"),  # no such field
        ({"nosuch.rate_rps": 1.0}, "nosuch.rate_rps"),
        ({"traffic": 1.0}, "traffic"),  # a section, not a number
        ({"service.concurrency": 0.0}, "service.concurrency"),  # out of range
        ({"service.concurrency": 2.5}, "service.concurrency"),  # not an integer
    ],
)
def test_bad_paths_and_values_name_the_param(params: dict[str, float], field: str) -> None:
    with pytest.raises(UserError) as exc:
        apply_params(_tiny(), params)
    assert exc.value.source == "--param"
    assert exc.value.field == field


@pytest.mark.parametrize(
    "param", ["traffic.rate_rpz=1:2:3", "service.concurrency=0:4:3", "traffic.rate_rps=1:x:3"]
)
def test_cli_bad_param_exits_2_with_message(
    scenario_file: Path, tmp_path: Path, param: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sweep", str(scenario_file), "--param", param, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "--param" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_each_point_equals_simulator_run_with_the_same_seed() -> None:
    axes = [parse_axis("traffic.rate_rps=2:6:3")]
    res = sweep(_tiny(), axes, replications=3, seed=9)
    assert [p.params for p in res.points] == [{"traffic.rate_rps": v} for v in (2.0, 4.0, 6.0)]
    for p in res.points:
        alone = run(apply_params(_tiny(), p.params), replications=3, seed=9)
        assert p.result.metrics == alone.metrics
        assert p.result.ci95 == alone.ci95
    # the rate matters: throughput grows with it
    thr = [p.result.metrics["throughput_rps"] for p in res.points]
    assert thr == sorted(thr) and thr[0] < thr[-1]


def test_grid_of_two_axes_in_product_order() -> None:
    res = sweep(_tiny(), [SweepAxis("traffic.rate_rps", (2.0, 4.0)),
                          SweepAxis("service.concurrency", (1.0, 3.0))], replications=2)
    assert [tuple(p.params.values()) for p in res.points] == [
        (2.0, 1.0), (2.0, 3.0), (4.0, 1.0), (4.0, 3.0)
    ]
    # more servers, less waiting (same random numbers at each point)
    wait = [p.result.metrics["wait_mean_s"] for p in res.points]
    assert wait[1] < wait[0] and wait[3] < wait[2]


def test_workers_do_not_change_numbers() -> None:
    axes = [parse_axis("traffic.rate_rps=2:6:3")]
    one = sweep(_tiny(), axes, replications=3, seed=4)
    two = sweep(_tiny(), axes, replications=3, seed=4, workers=2)
    assert csv_text(one) == csv_text(two)


def test_cli_csv_is_deterministic_and_has_mean_and_ci95(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sweep", str(scenario_file), "--param", "traffic.rate_rps=2:8:4",
            "--replications", "3", "--seed", "5"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert "swept tiny: 4 traffic.rate_rps" in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "b"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["points"][0]["traffic.rate_rps"] == 2.0
    a = (tmp_path / "a" / "sweep.csv").read_bytes()
    assert a == (tmp_path / "b" / "sweep.csv").read_bytes()
    assert main([*args, "--seed", "6", "--out", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "sweep.csv").read_bytes() != a
    rows = list(csv.DictReader(a.decode().splitlines()))
    assert len(rows) == 4
    for m in METRIC_NAMES:
        assert f"{m}_mean" in rows[0] and f"{m}_ci95" in rows[0]
    assert [float(r["traffic.rate_rps"]) for r in rows] == [2.0, 4.0, 6.0, 8.0]
    ci = [float(r["latency_mean_s_ci95"]) for r in rows]
    assert all(c > 0 and math.isfinite(c) for c in ci)


def test_cli_json_and_one_png_per_metric(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    code = main(["sweep", str(scenario_file), "--param", "traffic.rate_rps=2:4:2",
                 "--replications", "2", "--out", str(out), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["params"] == {"traffic.rate_rps": [2.0, 4.0]}
    assert len(doc["points"]) == 2 and doc["replications"] == 2 and doc["seed"] == 3
    for m in METRIC_NAMES:
        png = out / f"{m}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert str(png) in doc["files"]


def test_one_replication_leaves_ci_cells_empty(tmp_path: Path) -> None:
    res = sweep(_tiny(), [parse_axis("traffic.rate_rps=2,3")], replications=1)
    rows = list(csv.DictReader(csv_text(res).splitlines()))
    assert rows[0]["latency_mean_s_ci95"] == "" and rows[0]["latency_mean_s_mean"] != ""


def test_units_for_axis_labels() -> None:
    assert unit_of("traffic.rate_rps") == "requests/s"
    assert unit_of("latency_p95_s") == "s"
    assert unit_of("service.concurrency") == "slots"
    assert unit_of("cost_usd") == "USD"
    assert unit_of("error_rate") == "fraction"


def test_sweep_rejects_duplicate_axes_and_huge_grids() -> None:
    with pytest.raises(UserError, match="only once"):
        sweep(_tiny(), [parse_axis("traffic.rate_rps=1,2"), parse_axis("traffic.rate_rps=3")])
    big = parse_axis("traffic.rate_rps=1:2:200")
    with pytest.raises(UserError, match="points"):
        sweep(_tiny(), [big, parse_axis("service.concurrency=1:200:200")])


def test_parquet_written_exactly_when_pyarrow_is_importable(tmp_path: Path) -> None:
    import importlib.util

    from jitplan.simulator.sweep_output import write_sweep

    res = sweep(_tiny(), [parse_axis("traffic.rate_rps=2,3")], replications=2)
    paths = write_sweep(res, tmp_path)
    has_arrow = importlib.util.find_spec("pyarrow") is not None
    assert (tmp_path / "sweep.parquet" in paths) == has_arrow
    assert (tmp_path / "sweep.parquet").exists() == has_arrow
    if has_arrow:
        import pyarrow.parquet as pq

        table = pq.read_table(tmp_path / "sweep.parquet").to_pydict()
        cols, rows = res.rows()
        assert list(table) == cols
        assert table["latency_mean_s_mean"] == [r[cols.index("latency_mean_s_mean")] for r in rows]


def test_worker_pool_keeps_task_order_when_replication_indexes_repeat() -> None:
    """A sweep sends every point's replications 0..R-1 to one pool; results keyed by replication
    index collided (and the pool waited forever for the missing ones)."""
    import threading

    from jitplan.simulator.pool import Task, run_in_workers, run_task

    a = apply_params(_tiny(), {"traffic.rate_rps": 2.0}).model_dump_json()
    b = apply_params(_tiny(), {"traffic.rate_rps": 6.0}).model_dump_json()
    tasks: list[Task] = [(a, None, "fast", 1, 0), (a, None, "fast", 1, 1),
                         (b, None, "fast", 1, 0), (b, None, "fast", 1, 1)]
    got: list[object] = []
    th = threading.Thread(target=lambda: got.extend(run_in_workers(tasks, 2)), daemon=True)
    th.start()
    th.join(120)
    assert not th.is_alive(), "run_in_workers did not return"
    want = [run_task(t).metrics for t in tasks]
    assert [r.metrics for r in got] == want  # type: ignore[attr-defined]
