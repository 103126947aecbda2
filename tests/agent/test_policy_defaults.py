"""Issue 16, "Governance is opt-in": policy on by default in every governed command, replaced by
--policy / JITPLAN_POLICY, turned off only by an audited --no-policy that never auto-approves;
the requester's role and region required; plan, validate and apply agreeing."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from jitplan.tools.audit import AuditLog
from jitplan.tools.policy import PolicyBundle

ROOT = Path(__file__).resolve().parents[2]
GOV = ROOT / "tests" / "fixtures" / "governed"
WORLD = ROOT / "scenarios" / "world"
INTERN = ("--as", "intern", "--region", "apac")
ENABLE = {"id": "p-enable", "goal": "enable product-description", "steps": [
    {"id": "s1", "action": "enable", "feature": "product-description", "version": "1.0.0",
     "tolerances": [{"metric": "error_rate", "comparator": "<=", "threshold": 0.01}],
     "compensation": {"id": "s1-undo", "action": "disable", "feature": "product-description"}}]}
DENIALS = ('role "intern" is not allowed to change product-description',
           'region "apac" is not allowed for product-description')


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(ENABLE))
    return path


def _plan(cli: Any, *extra: str | Path) -> Any:
    return cli("plan", "--catalog", GOV / "catalog.yaml", "--signals", GOV / "signals.yaml",
               "--contracts", GOV / "contracts.yaml", "--state", GOV / "flags.json",
               "--request", "enable product-description", "--replications", "2", *extra)


def _chat(cli: Any, monkeypatch: pytest.MonkeyPatch, lines: list[str], *extra: str | Path) -> Any:
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    return cli("chat", "--catalog", GOV / "catalog.yaml", "--signals", GOV / "signals.yaml",
               "--contracts", GOV / "contracts.yaml", "--state", GOV / "flags.json",
               "--replications", "2", *extra)


def _custom_bundle(tmp_path: Path, body: str) -> Path:
    d = tmp_path / "custom-policy"
    d.mkdir(exist_ok=True)
    (d / "custom.rego").write_text("package jitplan\n\nimport rego.v1\n\n" + body)
    return d


def _kinds() -> list[str]:
    with AuditLog.open() as log:
        return [r.kind for r in log.records()]


# ---- policy on by default, in each of the five commands (the repro) ----------------


def test_plan_applies_the_default_policy_without_policy_flag(cli: Any) -> None:
    r = _plan(cli, *INTERN, "--json")
    doc = json.loads(r.out)
    assert r.code == 1 and doc["decision"] == "rejected", doc["reasons"]
    assert not any("policy not evaluated" in x for x in doc["reasons"])
    assert doc["policy"]["bundle_sha256"] == PolicyBundle.default().sha256
    denied = " ".join(v["message"] for v in doc["validation"]["violations"])
    assert all(d in denied for d in DENIALS), denied


def test_chat_applies_the_default_policy_without_policy_flag(
        cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    r = _chat(cli, monkeypatch, ["enable product-description", "/json", "/quit"], *INTERN)
    assert r.code == 0, r.err
    last = json.loads(r.out[r.out.index("{"): r.out.rindex("}") + 1])
    assert last["decision"] == "rejected" and last["policy"] is not None
    assert "decision approved" not in r.out


def test_validate_applies_the_default_bundle_shipped_in_the_package(cli: Any, plan_file: Path) -> None:
    r = cli("validate", plan_file, "--catalog", GOV / "catalog.yaml", *INTERN, "--json")
    doc = json.loads(r.out)
    assert r.code == 1 and doc["valid"] is False
    # the package's bundle (importlib.resources), not a path into the source checkout
    assert doc["policy_dir"] == PolicyBundle.default().path
    assert Path(doc["policy_dir"]).parent.name == "tools"
    assert "scenarios" not in doc["policy_dir"]
    assert all(any(d in v["message"] for v in doc["violations"]) for d in DENIALS)


def test_policy_eval_applies_the_default_bundle(cli: Any) -> None:
    r = cli("policy", "eval", "--catalog", GOV / "catalog.yaml", "--feature", "product-description",
            *INTERN, "--json")
    doc = json.loads(r.out)
    assert r.code == 1 and doc["allowed"] is False
    assert doc["policy_dir"] == PolicyBundle.default().path
    assert doc["bundle_sha256"] == PolicyBundle.default().sha256


def test_apply_dry_run_agrees_with_plan_and_validate(cli: Any, plan_file: Path, tmp_path: Path) -> None:
    flags = tmp_path / "flags.json"
    flags.write_bytes((GOV / "flags.json").read_bytes())
    before = flags.read_bytes()
    r = cli("apply", plan_file, "--state", flags, "--catalog", GOV / "catalog.yaml", *INTERN,
            "--dry-run")
    assert r.code == 1 and "refused" in r.err and all(d in r.err for d in DENIALS), r.err
    assert flags.read_bytes() == before
    ok = cli("apply", plan_file, "--state", flags, "--catalog", GOV / "catalog.yaml",
             "--as", "catalog-editor", "--region", "us", "--dry-run")
    assert ok.code == 0 and "dry_run" in ok.out, ok.err


def test_apply_without_a_catalog_cannot_check_the_policy(cli: Any, plan_file: Path, tmp_path: Path) -> None:
    flags = tmp_path / "flags.json"
    flags.write_bytes((GOV / "flags.json").read_bytes())
    r = cli("apply", plan_file, "--state", flags, "--dry-run")
    assert r.code == 2 and "--catalog" in r.err


def test_a_real_apply_denied_by_the_policy_is_refused_and_audited(
        cli: Any, plan_file: Path, tmp_path: Path) -> None:
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.plan import Plan
    from jitplan.tools.flags import FlagStore

    flags = tmp_path / "flags.json"
    flags.write_bytes((GOV / "flags.json").read_bytes())
    bundle = PolicyBundle.default()
    with AuditLog.open() as log:  # an approval on record (as if approved earlier)
        log.append("approval", {
            "plan_sha256": Plan.from_file(plan_file).digest(), "decision": "approved",
            "by": "operator", "comment": "", "auto": False, "inputs": {
                "catalog_path": str(GOV / "catalog.yaml"),
                "catalog_sha256": Catalog.from_file(GOV / "catalog.yaml").digest(),
                "policy_dir": bundle.path, "policy_sha256": bundle.sha256,
                "state_sha256": FlagStore(flags).read().digest()}}, thread_id="cycle-x")
    r = cli("apply", plan_file, "--state", flags, "--signals", GOV / "signals.yaml", *INTERN)
    assert r.code == 1 and "policy denies" in r.err
    assert _kinds()[-1] == "apply_refused"


# ---- --policy and JITPLAN_POLICY replace the default --------------------------------------


@pytest.mark.parametrize("how", ["flag", "env"])
def test_policy_flag_and_env_replace_the_default(
        cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    custom = _custom_bundle(tmp_path, 'deny contains "custom bundle says no"\n\nescalate := set()\n')
    extra: tuple[str | Path, ...] = ("--policy", custom) if how == "flag" else ()
    if how == "env":
        monkeypatch.setenv("JITPLAN_POLICY", str(custom))
    r = cli("policy", "eval", "--catalog", GOV / "catalog.yaml", "--feature", "search-ranker",
            *extra, "--json")
    doc = json.loads(r.out)
    assert r.code == 1 and doc["deny"] == ["custom bundle says no"]
    assert doc["policy_dir"] == str(custom)
    assert doc["bundle_sha256"] == PolicyBundle.load(custom).sha256


def test_a_bad_jitplan_policy_is_bad_input_naming_the_variable(
        cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JITPLAN_POLICY", str(tmp_path / "missing"))
    r = cli("policy", "eval", "--catalog", GOV / "catalog.yaml", "--feature", "search-ranker")
    assert r.code == 2 and "JITPLAN_POLICY" in r.err


# ---- --no-policy: explicit, audited, never auto-approved ----------------------------------


def test_no_policy_escalates_and_is_audited(cli: Any) -> None:
    base = ["--catalog", WORLD / "catalog.yaml", "--signals", WORLD / "signals" / "demand-rise.yaml",
            "--contracts", WORLD / "contracts.yaml", "--state", WORLD / "flags.json",
            "--replications", "2", "--json"]
    with_policy = cli("plan", *base)
    assert json.loads(with_policy.out)["decision"] == "approved", with_policy.err  # low risk
    r = cli("plan", *base, "--no-policy", "--no-cache", "--as", "ml-engineer")
    doc = json.loads(r.out)
    assert r.code == 0 and doc["decision"] == "escalated", doc["reasons"]
    assert any("--no-policy" in why for why in doc["escalation"]["reasons"])
    with AuditLog.open() as log:
        off = [x for x in log.records(doc["thread_id"]) if x.kind == "policy_disabled"]
    assert len(off) == 1 and off[0].payload["role"] == "ml-engineer" and off[0].payload["user"]


def test_no_policy_still_enforces_the_catalogs_roles_and_regions(cli: Any, plan_file: Path) -> None:
    r = cli("validate", plan_file, "--catalog", GOV / "catalog.yaml", *INTERN, "--no-policy", "--json")
    doc = json.loads(r.out)
    assert r.code == 1 and doc["policy_disabled"] is True
    assert any("--no-policy" in e for e in doc["escalate"])
    assert all(any(d in v["message"] for v in doc["violations"]) for d in DENIALS)
    assert _kinds() == ["policy_disabled"]


def test_no_policy_and_policy_together_are_bad_input(cli: Any, plan_file: Path) -> None:
    r = cli("validate", plan_file, "--catalog", GOV / "catalog.yaml", "--no-policy",
            "--policy", ROOT / "tools" / "policy_bundle")
    assert r.code == 2


def test_no_policy_apply_needs_a_human_approval(cli: Any, plan_file: Path, tmp_path: Path) -> None:
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.plan import Plan
    from jitplan.tools.flags import FlagStore

    flags = tmp_path / "flags.json"
    flags.write_bytes((GOV / "flags.json").read_bytes())
    bundle = PolicyBundle.no_policy()
    with AuditLog.open() as log:
        log.append("approval", {
            "plan_sha256": Plan.from_file(plan_file).digest(), "decision": "approved",
            "by": "auto", "comment": "", "auto": True, "inputs": {
                "catalog_path": str(GOV / "catalog.yaml"),
                "catalog_sha256": Catalog.from_file(GOV / "catalog.yaml").digest(),
                "policy_dir": bundle.path, "policy_sha256": bundle.sha256,
                "state_sha256": FlagStore(flags).read().digest()}}, thread_id="cycle-y")
    before = flags.read_bytes()
    r = cli("apply", plan_file, "--state", flags, "--signals", GOV / "signals.yaml", "--no-policy")
    assert r.code == 1 and "human approval" in r.err, r.err
    assert flags.read_bytes() == before
    assert _kinds()[-2:] == ["policy_disabled", "apply_refused"]


# ---- requester role and region are required (or configured once) -------------------------


@pytest.mark.parametrize("missing", ["JITPLAN_ROLE", "JITPLAN_REGION"])
@pytest.mark.parametrize("command", ["plan", "chat", "validate", "apply", "policy"])
def test_role_and_region_are_required(cli: Any, monkeypatch: pytest.MonkeyPatch, plan_file: Path,
                                      tmp_path: Path, missing: str, command: str) -> None:
    monkeypatch.delenv(missing)
    monkeypatch.setattr(sys, "stdin", io.StringIO("/quit\n"))
    argv: dict[str, list[Any]] = {
        "plan": ["plan", "--catalog", GOV / "catalog.yaml", "--signals", GOV / "signals.yaml",
                 "--contracts", GOV / "contracts.yaml"],
        "chat": ["chat", "--catalog", GOV / "catalog.yaml"],
        "validate": ["validate", plan_file, "--catalog", GOV / "catalog.yaml"],
        "apply": ["apply", plan_file, "--state", GOV / "flags.json", "--catalog",
                  GOV / "catalog.yaml", "--dry-run"],
        "policy": ["policy", "eval", "--catalog", GOV / "catalog.yaml", "--feature", "search-ranker"],
    }
    r = cli(*argv[command])
    flag = "--as" if missing == "JITPLAN_ROLE" else "--region"
    assert r.code == 2, (r.out, r.err)
    assert flag in r.err and missing in r.err and "Traceback" not in r.err
    monkeypatch.setenv(missing, "operator" if missing == "JITPLAN_ROLE" else "eu")
    if command != "chat":
        assert cli(*argv[command]).code != 2


def test_flags_win_over_the_configured_requester(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JITPLAN_ROLE", "operator")
    monkeypatch.setenv("JITPLAN_REGION", "eu")
    r = cli("policy", "eval", "--catalog", GOV / "catalog.yaml", "--feature", "product-description",
            *INTERN, "--json")
    assert r.code == 1 and json.loads(r.out)["request"]["role"] == "intern"


# ---- the README's "Safety defaults" example runs as written ----------------------------------


def test_the_readme_safety_defaults_example_runs(
        cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import re
    import shlex

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Safety defaults"):text.index("## Governance and validation")]
    block = re.search(r"^```bash\n(.*?)^```", section, re.S | re.M)
    assert block is not None
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("JITPLAN_ROLE")
    monkeypatch.delenv("JITPLAN_REGION")
    ran = []
    for line in block.group(1).replace("\\\n", " ").splitlines():
        words = shlex.split(line.split("  #")[0].split("# ->")[0])
        if words[:1] == ["export"]:
            for pair in words[1:]:
                monkeypatch.setenv(*pair.split("=", 1))
        elif words[:1] == ["jitplan"]:
            r = cli(*words[1:])
            ran.append(words[1])
            if words[1] == "policy":
                assert r.code == 1 and "DENIED" in r.out and 'role "intern"' in r.out, r.out
            else:
                assert r.code == 0 and "decision approved" in r.out, r.out + r.err
    assert ran == ["plan", "policy"]


def test_approve_needs_a_named_approver(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    r = cli("plan", "--catalog", WORLD / "catalog.yaml", "--signals",
            WORLD / "signals" / "demand-rise.yaml", "--contracts", WORLD / "contracts.yaml",
            "--state", WORLD / "flags.json", "--no-policy", "--replications", "2", "--json")
    doc = json.loads(r.out)
    assert doc["decision"] == "escalated", doc["reasons"]
    monkeypatch.delenv("JITPLAN_ROLE")
    r = cli("approve", doc["thread_id"], "--json")  # used to approve as "operator"
    assert r.code == 2 and "--as" in r.out + r.err and "JITPLAN_ROLE" in r.out + r.err
    monkeypatch.setenv("JITPLAN_ROLE", "ml-engineer")
    ok = cli("approve", doc["thread_id"], "--json")
    assert ok.code == 0 and json.loads(ok.out)["approval"]["by"] == "ml-engineer"
