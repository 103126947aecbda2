"""``jitplan regress --record --model M`` and the replay of recorded cases (cassettes).

The "real" model is ``tests/agent/replay_server.py`` serving ``demand_rise.yaml``: recording goes
planner -> litellm -> HTTP -> the regress cassette server -> litellm -> HTTP -> that server; the
replay then runs with that server stopped, through litellm over HTTP to the in-process cassette
server. Changing the catalog, the system prompt or the cassette invalidates the replay with a
message naming the case and what changed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from jitplan.agent.cassette import INPUT_PARTS, PROMPT_PARTS, Cassette, replay_model
from jitplan.contracts.suite import load_suite, recording_path

replay_server: Any = pytest.importorskip("jitplan_tests_replay_server")  # loaded by tests/agent/conftest.py

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
FULL = ROOT / "scenarios" / "suites" / "full.yaml"
CASE = "llm-demand-rise"


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """A one-case suite over a private copy of the sample world (so the test can edit it)."""
    world = tmp_path / "world"
    shutil.copytree(WORLD, world)
    doc = {"name": "rec", "defaults": {
        "catalog": "world/catalog.yaml", "contracts": "world/contracts.yaml", "state": "world/flags.json",
        "evidence": ["world/evidence"], "policy": str(ROOT / "tools" / "policy_bundle"), "replications": 2,
    }, "cases": [
        {"name": CASE, "signals": "world/signals/demand-rise.yaml", "planner": "recorded",
         "expect": {"decision": "approved", "features_touched": ["answer-synthesizer"], "violation_codes": []}},
        {"name": "offline-steady", "signals": "world/signals/steady.yaml", "expect": {"decision": "noop"}},
    ]}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _record(cli: Any, replay: Any, suite: Path) -> tuple[Any, Any]:
    srv = replay("demand_rise")
    res = cli("regress", suite, "--record", "--model", "openai/gpt-4o-mini", "--note", "scripted test model",
              "--json")
    srv.stop()
    return srv, res


def test_record_then_replay_offline_then_a_changed_catalog_invalidates(
    cli: Any, replay: Any, suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, res = _record(cli, replay, suite)
    assert res.code == 0, res.out + res.err
    doc = json.loads(res.out)
    assert [c["name"] for c in doc["cases"]] == [CASE]  # --record runs only the recorded cases
    assert srv.problems == [] and len(srv.completions) == 5
    path = recording_path(str(suite), CASE)
    assert path == suite.parent / "suite.recordings" / f"{CASE}.json" and path.is_file()
    cas = Cassette.load(path)
    assert (cas.model, cas.replay_model, cas.note) == ("openai/gpt-4o-mini", "openai/gpt-4o-mini",
                                                        "scripted test model")
    assert set(cas.fingerprint) == {*INPUT_PARTS, *PROMPT_PARTS}
    recorded = yaml.safe_load((ROOT / "tests/fixtures/recordings/demand_rise.yaml").read_text())["exchanges"]
    assert [e["id"] for e in cas.responses] == [e["response"]["id"] for e in recorded]
    assert [r.messages for r in cas.requests] == [len(r.body["messages"]) for r in srv.completions]
    # The cassette is in the replay server's format: it can serve it by hand too.
    _, exchanges = replay_server.load_recording(path)
    assert len(exchanges) == 5 and exchanges[0].body == cas.responses[0]

    # Replay: the "real" server is stopped and JITPLAN_LLM_API_BASE points nowhere useful.
    monkeypatch.setenv("JITPLAN_LLM_API_BASE", srv.base_url)
    res = cli("regress", suite, "--json")
    assert res.code == 0, res.out + res.err
    cases = {c["name"]: c for c in json.loads(res.out)["cases"]}
    obs = cases[CASE]["observed"]
    assert obs["planner"] == "llm:openai/gpt-4o-mini" and obs["model_calls"] == 5
    assert obs["decision"] == "approved" and cases["offline-steady"]["status"] == "pass"
    assert len(srv.completions) == 5  # nothing reached the old server

    # A changed catalog: the case fails (exit 1) naming the case, the recording and the catalog.
    cat = suite.parent / "world" / "catalog.yaml"
    cat.write_text(cat.read_text() + "\n# edited after the recording\n")
    out = suite.parent / "out.xml"
    res = cli("regress", suite, "--junit", out)
    assert res.code == 1, res.out + res.err
    assert (f"recording {CASE}.json of case {CASE} is stale: catalog changed since the recording "
            "(sha256 ") in res.out
    xml = out.read_text()
    assert "catalog changed since the recording" in xml and "re-record it: jitplan regress" in xml
    assert "--record --model openai/gpt-4o-mini -k llm-demand-rise" in xml


def test_a_changed_system_prompt_or_a_shortened_cassette_invalidates(
    cli: Any, replay: Any, suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, res = _record(cli, replay, suite)
    assert res.code == 0, res.out + res.err
    from jitplan.agent.planners.prompting import load_prompt

    with monkeypatch.context() as mp:
        mp.setattr("jitplan.agent.planners.llm.load_prompt", lambda: load_prompt() + "\nBe brief.")
        res = cli("regress", suite, "-k", CASE, "--json")
    assert res.code == 1
    fails = json.loads(res.out)["cases"][0]["failures"]
    assert fails[0].startswith(f"recording {CASE}.json of case {CASE} is stale: system prompt changed")
    assert not any("tool schemas" in f or "catalog" in f for f in fails)

    path = recording_path(str(suite), CASE)
    doc = json.loads(path.read_text())
    doc["exchanges"], doc["requests"] = doc["exchanges"][:3], doc["requests"][:3]
    path.write_text(json.dumps(doc))
    res = cli("regress", suite, "-k", CASE, "--json")
    assert res.code == 1
    fails = json.loads(res.out)["cases"][0]["failures"]
    assert "the planner made more model calls than the 3 recorded" in fails[0]


def test_a_failing_model_is_not_recorded(cli: Any, replay: Any, suite: Path) -> None:
    err = {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}}
    replay([replay_server.Exchange(500, body=err)] * 4)
    res = cli("regress", suite, "--record", "--model", "openai/gpt-4o-mini", "--json")
    assert res.code == 1
    fails = json.loads(res.out)["cases"][0]["failures"]
    assert fails[0].startswith("not recorded: model call 1 to openai/gpt-4o-mini failed: ")
    assert "boom" in fails[0] and not recording_path(str(suite), CASE).exists()


def test_missing_or_malformed_recordings_and_bad_flags_exit_2(cli: Any, suite: Path) -> None:
    res = cli("regress", suite)
    assert res.code == 2
    assert f"{suite}: cases[0].planner: no recording for case '{CASE}' at " in res.err
    assert "--record --model MODEL -k llm-demand-rise" in res.err and "Traceback" not in res.err
    path = recording_path(str(suite), CASE)
    path.parent.mkdir()
    path.write_text("{not json")
    res = cli("regress", suite)
    assert res.code == 2 and f"{path}: malformed JSON at line 1" in res.err
    path.write_text(json.dumps({"case": CASE, "exchanges": []}))
    res = cli("regress", suite)
    assert res.code == 2 and str(path) in res.err and "Traceback" not in res.err
    # Only the offline case selected: no recording needed.
    assert cli("regress", suite, "-k", "offline-steady").code == 0
    for argv, field in ((["--model", "openai/x"], "--model"), (["--record"], "--record"),
                        (["--record", "--model", "openai/x", "-k", "offline"], "--record")):
        res = cli("regress", suite, *argv)
        assert res.code == 2 and field in res.err, argv


def test_planner_field_forms(tmp_path: Path) -> None:
    suite = load_suite(FULL)
    rec = [c for c in suite.cases if c.kind == "planning" and c.planner.startswith("recorded:")]
    assert len(rec) == 1 and Path(rec[0].planner.removeprefix("recorded:")).is_file()
    assert replay_model("ollama/llama3.1") == "openai/llama3.1" == replay_model("llama3.1")
    assert recording_path("/x/s.yaml", "a/b c") == Path("/x/s.recordings/a_b_c.json")


def test_the_full_suites_recorded_case_replays(cli: Any) -> None:
    res = cli("regress", FULL, "-k", "llm-recorded-*", "--json")
    assert res.code == 0, res.out + res.err
    case = json.loads(res.out)["cases"][0]
    assert case["observed"]["planner"] == "llm:openai/gpt-4o-mini" and case["observed"]["model_calls"] == 5
    cas = Cassette.load(case["observed"]["recording"])
    assert "not a real model" in cas.note.lower()
