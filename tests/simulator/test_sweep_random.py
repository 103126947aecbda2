"""``jitplan sweep --design random --points N``: parsing, determinism, bad input, outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from jitplan.agent.cli import main
from jitplan.contracts.errors import UserError
from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic
from jitplan.simulator import run
from jitplan.simulator.sweep import SweepAxis, apply_params, parse_axis, random_points, sweep
from jitplan.simulator.sweep_output import csv_text

AXES = [parse_axis("traffic.rate_rps=2:8", "random"), parse_axis("service.concurrency=2:6", "random")]


def _tiny() -> Scenario:
    return Scenario(name="tiny", seed=3, requests=200, traffic=Traffic(rate_rps=5),
                    service=Service(concurrency=4, latency=Latency(mean_s=0.5)))


def test_random_specs_are_ranges_or_choices() -> None:
    assert parse_axis("traffic.rate_rps=2:8", "random") == SweepAxis("traffic.rate_rps", (2.0, 8.0), span=True)
    assert parse_axis("traffic.rate_rps=2,3", "random") == SweepAxis("traffic.rate_rps", (2.0, 3.0))
    assert parse_axis("traffic.rate_rps=2:8:4").values == (2.0, 4.0, 6.0, 8.0)  # the grid is unchanged


@pytest.mark.parametrize("spec", ["traffic.rate_rps=2:8:4", "traffic.rate_rps=8:2", "traffic.rate_rps=a:2",
                                  "traffic.rate_rps=2:inf", "traffic.rate_rps"])
def test_bad_random_specs_name_param(spec: str) -> None:
    with pytest.raises(UserError) as exc:
        parse_axis(spec, "random")
    assert "--param" in str(exc.value)


def test_points_are_deterministic_in_range_and_integer_where_the_field_is() -> None:
    a = random_points(_tiny(), AXES, 50, seed=7)
    assert a == random_points(_tiny(), AXES, 50, seed=7)
    assert a != random_points(_tiny(), AXES, 50, seed=8)
    assert random_points(_tiny(), AXES, 10, seed=7) == a[:10]  # a prefix of a longer design
    rates = [p["traffic.rate_rps"] for p in a]
    servers = [p["service.concurrency"] for p in a]
    assert all(2.0 <= r <= 8.0 for r in rates) and len(set(rates)) == 50
    assert all(type(s) is int and 2 <= s <= 6 for s in servers) and set(servers) == {2, 3, 4, 5, 6}
    choice = random_points(_tiny(), [SweepAxis("traffic.rate_rps", (1.0, 9.0))], 40, seed=1)
    assert {p["traffic.rate_rps"] for p in choice} == {1.0, 9.0}


def test_each_random_point_equals_simulator_run_and_workers_do_not_matter() -> None:
    res = sweep(_tiny(), AXES, replications=2, seed=5, design="random", points=4)
    assert res.design == "random" and len(res.points) == 4
    assert [p.params for p in res.points] == random_points(_tiny(), AXES, 4, seed=5)
    for p in res.points:
        alone = run(apply_params(_tiny(), p.params), replications=2, seed=5)
        assert p.result.metrics == alone.metrics
    two = sweep(_tiny(), AXES, replications=2, seed=5, design="random", points=4, workers=2)
    assert csv_text(two) == csv_text(res)


@pytest.mark.parametrize(("kwargs", "source"), [
    ({"design": "random"}, "--points"),
    ({"design": "random", "points": 0}, "--points"),
    ({"design": "grid", "points": 3}, "--points"),
    ({"design": "sobol", "points": 3}, "--design"),
])
def test_design_and_points_must_agree(kwargs: dict[str, object], source: str) -> None:
    with pytest.raises(UserError) as exc:
        sweep(_tiny(), AXES, replications=1, **kwargs)  # type: ignore[arg-type]
    assert source in str(exc.value)
    with pytest.raises(UserError, match="needs --design random"):
        sweep(_tiny(), AXES, replications=1)


def test_cli_random_csv_json_and_plots(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["sweep", str(scenario_file), "--design", "random", "--points", "6", "--param", "traffic.rate_rps=2:8",
            "--param", "service.concurrency=2:6", "--replications", "2", "--seed", "9"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "random design over traffic.rate_rps in [2, 8], service.concurrency in [2, 6] = 6 points" in out
    assert main([*args, "--out", str(tmp_path / "b"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["design"] == "random" and len(doc["points"]) == 6 and doc["seed"] == 9
    assert doc["params"] == {"traffic.rate_rps": [2.0, 8.0], "service.concurrency": [2.0, 6.0]}
    a = (tmp_path / "a" / "sweep.csv").read_bytes()
    assert a == (tmp_path / "b" / "sweep.csv").read_bytes()
    rows = list(csv.DictReader(a.decode().splitlines()))
    assert [float(r["traffic.rate_rps"]) for r in rows] == [p["traffic.rate_rps"] for p in doc["points"]]
    assert (tmp_path / "a" / "latency_p95_s.png").read_bytes()[:4] == b"\x89PNG"
    assert main([*args[:-1], "10", "--out", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "sweep.csv").read_bytes() != a


@pytest.mark.parametrize("extra", [
    ["--design", "random", "--param", "traffic.rate_rps=2:8"],
    ["--design", "random", "--points", "3", "--param", "traffic.rate_rps=2:8:3"],
    ["--points", "3", "--param", "traffic.rate_rps=2:8:3"],
    ["--param", "traffic.rate_rps=2:8"],
    ["--design", "random", "--points", "3", "--param", "traffic.nope=2:8"],
])
def test_cli_bad_random_input_exits_2(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
) -> None:
    assert main(["sweep", str(scenario_file), *extra, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert ("--param" in err or "--points" in err) and "Traceback" not in err
    assert not (tmp_path / "o").exists()
