"""The Python API from a plain script: parallel replications without a ``__main__`` guard, and
``to_frame()`` returning a pandas DataFrame.

``simulator.run(..., workers=2)`` at the top level of a script used to fail with "An attempt has
been made to start a new process before the current process has finished its bootstrapping
phase" and ``BrokenProcessPool`` (multiprocessing's spawn re-ran the script in each child), and
``to_frame()`` returned a numpy array when pandas was missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from jitplan import simulator
from jitplan.contracts.errors import UserError
from jitplan.contracts.scenario import Scenario, Traffic

SIM = Path(__file__).resolve().parents[2] / "scenarios" / "sim"


def test_unguarded_script_runs_parallel_replications_once(tmp_path: Path) -> None:
    script = tmp_path / "study.py"
    script.write_text(textwrap.dedent(f"""
        import json, os
        from jitplan import simulator
        print("script body ran in", os.getpid(), flush=True)
        res = simulator.run({str(SIM / "mm10.yaml")!r}, replications=4, workers=2, seed=5)
        print(json.dumps({{"p95": res.metrics["latency_p95_s"], "rows": len(res.to_frame())}}))
    """))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "bootstrapping" not in proc.stderr and "BrokenProcessPool" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert sum("script body ran in" in line for line in lines) == 1  # workers never re-run it
    doc = json.loads(lines[-1])
    serial = simulator.run(SIM / "mm10.yaml", replications=4, workers=1, seed=5)
    assert doc == {"p95": serial.metrics["latency_p95_s"], "rows": 4}


def test_workers_ignore_a_shadowing_package_in_the_working_directory(tmp_path: Path) -> None:
    shadow = tmp_path / "jitplan"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('the user project shadowed jitplan')\n")
    code = (f"from jitplan import simulator; r = simulator.run({str(SIM / 'mm10.yaml')!r}, "
            "replications=2, workers=2); print(len(r.replications))")
    proc = subprocess.run([sys.executable, "-P", "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "2"


def test_to_frame_is_a_dataframe_with_one_row_per_replication() -> None:
    res = simulator.run(SIM / "mm10.yaml", replications=3, seed=2)
    frame = res.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["replication", *simulator.METRIC_NAMES]
    assert frame["replication"].tolist() == [0, 1, 2]
    assert frame["latency_p95_s"].tolist() == [r.metrics["latency_p95_s"] for r in res.replications]


def test_bad_input_found_in_a_worker_is_the_same_user_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    sc = Scenario(name="t", duration_s=60, traffic=Traffic(arrival="trace", path=str(missing)))
    with pytest.raises(UserError) as serial:
        simulator.run(sc, replications=2, workers=1)
    with pytest.raises(UserError) as parallel:
        simulator.run(sc, replications=2, workers=2)
    assert str(parallel.value) == str(serial.value) and str(missing) in str(parallel.value)


def test_a_crash_in_a_worker_is_a_run_error_with_its_traceback() -> None:
    from jitplan.contracts.errors import RunError
    from jitplan.simulator.pool import run_in_workers

    good = simulator.load_scenario(SIM / "mm10.yaml").model_dump_json()
    tasks = [(good, None, "fast", 1, 0), ("{not a scenario", None, "fast", 1, 1)]
    with pytest.raises(RunError, match=r"(?s)failed in a worker process.*ValidationError"):
        run_in_workers(tasks, 2)
