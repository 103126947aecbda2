"""``jitplan examples``: the shipped examples reach an installed user (no source checkout)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def test_list_names_the_world_scenarios_plans_and_the_trace_with_its_licence(cli: Any) -> None:
    res = cli("examples", "--list", "--json")
    assert res.code == 0, res.err
    files = set(json.loads(res.out)["files"])
    for need in ("scenarios/world/catalog.yaml", "scenarios/world/contracts.yaml",
                 "scenarios/world/flags.json", "scenarios/world/signals/demand-rise.yaml",
                 "scenarios/sim/mm10.yaml", "scenarios/sim/load_spike.yaml",
                 "scenarios/sim/plans/canary_ticket_summarizer.json",
                 "scenarios/traces/azure-llm-inference-2023/conversation.csv",
                 "scenarios/traces/azure-llm-inference-2023/LICENSE"):
        assert need in files
    assert not any(f.endswith(".py") for f in files)


def test_copy_is_byte_identical_and_never_overwrites_silently(cli: Any, tmp_path: Path) -> None:
    res = cli("examples", tmp_path, "--json")
    assert res.code == 0, res.err
    names = json.loads(res.out)["files"]
    for name in names:  # the repository's scenarios/ is the one source
        assert (tmp_path / name).read_bytes() == (ROOT / name).read_bytes()
    (tmp_path / "scenarios/sim/mm10.yaml").write_text("# mine\n")
    again = cli("examples", tmp_path)
    assert again.code == 2 and "--force" in again.err
    assert (tmp_path / "scenarios/sim/mm10.yaml").read_text() == "# mine\n"
    assert cli("examples", tmp_path, "--force").code == 0
    assert (tmp_path / "scenarios/sim/mm10.yaml").read_bytes() == (ROOT / "scenarios/sim/mm10.yaml").read_bytes()


def test_copied_examples_run_as_the_readme_says(cli: Any, tmp_path: Path, monkeypatch: Any) -> None:
    assert cli("examples", tmp_path).code == 0
    monkeypatch.chdir(tmp_path)
    assert cli("catalog", "validate", "scenarios/world/catalog.yaml").code == 0
    res = cli("simulate", "scenarios/sim/provider_outage_canary.yaml",
              "--plan", "scenarios/sim/plans/canary_ticket_summarizer.json", "--replications", "2",
              "--json")
    assert res.code in (0, 1), res.err
    assert json.loads(res.out)["replications"] == 2


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "jitplan.examples", "--list"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "scenarios/sim/mm10.yaml" in proc.stdout.splitlines()
