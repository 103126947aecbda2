"""``jitplan sweep``: an unwritable ``--out`` is bad input before the sweep runs (exit 2 naming
``--out``); integer parameters stay integers in the points, the JSON and the Parquet column."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from jitplan.simulator.sweep import parse_axis, sweep


@pytest.mark.parametrize("kind", ["a-file", "under-a-file", "proc"])
def test_unwritable_out_exits_2_naming_out_before_the_sweep_runs(
    cli: Any, scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    out = {"a-file": str(afile), "under-a-file": str(afile / "sub"), "proc": "/proc/jitplan-sweep-x"}[kind]

    def no_run(*a: Any, **k: Any) -> Any:
        raise AssertionError("the sweep ran before --out was checked")

    monkeypatch.setattr(importlib.import_module("jitplan.simulator.sweep"), "run_task", no_run)
    for extra in ([], ["--json"]):
        res = cli("sweep", scenario_file, "--param", "service.concurrency=1,2", "--replications", "1",
                  "--out", out, *extra)
        assert res.code == 2, res.out + res.err
        assert "Traceback" not in res.err
        lines = res.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("jitplan: error: --out: "), res.err
        if extra:
            assert json.loads(res.out)["error"]["file"] == "--out"
    assert afile.read_text() == "keep me"


def test_a_write_failure_after_the_sweep_is_one_line(
    cli: Any, scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*a: Any, **k: Any) -> Any:
        raise OSError(28, "No space left on device", str(tmp_path / "o" / "sweep.csv"))

    monkeypatch.setattr(importlib.import_module("jitplan.simulator.sweep_output"), "write_sweep", full)
    res = cli("sweep", scenario_file, "--param", "service.concurrency=1,2", "--replications", "1",
              "--out", tmp_path / "o")
    assert res.code == 2 and "Traceback" not in res.err
    assert res.err.strip() == f"jitplan: error: --out: cannot write {tmp_path / 'o' / 'sweep.csv'}: No space left on device"


def test_integer_params_are_ints_in_points_json_and_csv(cli: Any, scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = cli("sweep", scenario_file, "--param", "service.concurrency=1:3:3", "--param", "traffic.rate_rps=2,3",
              "--replications", "1", "--out", out, "--json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["params"]["service.concurrency"] == [1, 2, 3]
    assert all(type(v) is int for v in doc["params"]["service.concurrency"])
    conc = [p["service.concurrency"] for p in doc["points"]]
    assert conc == [1, 1, 2, 2, 3, 3] and all(type(v) is int for v in conc)
    assert all(type(p["traffic.rate_rps"]) is float for p in doc["points"])  # a float field stays float
    csv_rows = (out / "sweep.csv").read_text().splitlines()[1:]
    assert [r.split(",")[1] for r in csv_rows] == ["1", "1", "2", "2", "3", "3"]


def test_random_design_draws_ints_on_integer_fields(scenario_file: Path) -> None:
    from jitplan.simulator import load_scenario

    res = sweep(load_scenario(scenario_file), [parse_axis("service.concurrency=1:6", "random")],
                replications=1, design="random", points=4)
    vals = [p.params["service.concurrency"] for p in res.points]
    assert all(type(v) is int and 1 <= v <= 6 for v in vals)
    cols, rows = res.rows()
    assert all(type(r[cols.index("service.concurrency")]) is int for r in rows)


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="pyarrow not installed")
def test_parquet_integer_column(scenario_file: Path, tmp_path: Path) -> None:  # pragma: no cover - optional
    import pyarrow as pa
    import pyarrow.parquet as pq

    from jitplan.simulator import load_scenario
    from jitplan.simulator.sweep_output import write_sweep

    res = sweep(load_scenario(scenario_file), [parse_axis("service.concurrency=1,2")], replications=1)
    write_sweep(res, tmp_path / "o")
    table = pq.read_table(tmp_path / "o" / "sweep.parquet")
    assert pa.types.is_integer(table.schema.field("service.concurrency").type)
