"""``jitplan chat`` driven non-interactively (stdin is not a TTY), plus the Studio export."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"


def _chat(cli: Any, monkeypatch: pytest.MonkeyPatch, lines: list[str], *extra: str) -> Any:
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    return cli("chat", "--catalog", WORLD / "catalog.yaml", "--signals", WORLD / "signals" / "steady.yaml",
               "--contracts", WORLD / "contracts.yaml", "--state", WORLD / "flags.json",
               "--policy", ROOT / "tools" / "policy_bundle", "--replications", "2",
               "--evidence", WORLD / "evidence", *extra)


def test_chat_proposes_escalates_and_approves(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    r = _chat(cli, monkeypatch, ["enable refund-advisor", "/approve looks fine", "/json", "/quit"])
    assert r.code == 0, r.err
    assert "decision escalated" in r.out and "needs a human" in r.out
    assert "decision approved" in r.out
    last = json.loads(r.out[r.out.index("{"): r.out.rindex("}") + 1])
    assert last["decision"] == "approved" and last["approval"]["by"] == "operator"
    assert last["approval"]["comment"] == "looks fine"
    assert r.out.rstrip().endswith("bye")


def test_chat_refine_and_structured_requests(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    r = _chat(cli, monkeypatch, [
        "make it all better please",             # not a structured request: explained, no crash
        "roll out reply-drafter to 25%",         # already serving: noop
        "/refine refresh ticket-summarizer prompt",
        "/approve",
        "/frobnicate",
        "/quit",
    ])
    assert r.code == 0, r.err
    assert "structured requests only" in r.out
    assert "already serves" in r.out and "decision noop" in r.out
    assert "refresh_prompt" in r.out and "ticket-summarizer" in r.out
    assert "unknown command '/frobnicate'" in r.out


def test_chat_without_a_proposal_and_eof(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    r = _chat(cli, monkeypatch, ["/approve", "/show", "/help"])  # stdin ends without /quit
    assert r.code == 0
    assert r.out.count("nothing proposed yet") == 2 and "/refine <text>" in r.out


def test_chat_bad_input_fails_before_the_prompt(cli: Any, tmp_path: Path) -> None:
    r = cli("chat", "--catalog", tmp_path / "nope.yaml")
    assert r.code == 2 and "nope.yaml" in r.err and "not found" in r.err


def test_studio_graph_compiles_without_a_checkpointer() -> None:
    conf = json.loads((ROOT / "langgraph.json").read_text())
    module, _, attr = conf["graphs"]["jitplan"].partition(":")
    assert module == "jitplan.agent.studio" and attr == "graph"  # importable from the package
    from jitplan.agent.studio import graph

    assert graph.checkpointer is None
    assert {"perceive", "plan", "decide", "record"} <= set(graph.get_graph().nodes)
