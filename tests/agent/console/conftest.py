"""Fixtures of the console tests: a tokens file, the app on a TestClient, cycles to look at."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
WORLD = ROOT / "scenarios" / "world"
TOKENS = {"operator": "op-" + "a" * 30, "payments-lead": "pl-" + "b" * 30, "sql-nobody": "sn-" + "c" * 30}


@dataclass
class Console:
    client: Any
    app: Any
    flags: Path
    tokens_file: Path

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[role]}"}

    def login(self, role: str, client: Any = None) -> tuple[Any, str]:
        """Log ``client`` (default: a new one) in through the form; returns it and its CSRF."""
        import re

        from fastapi.testclient import TestClient

        c = client or TestClient(self.app)
        page = c.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        r = c.post("/login", data={"token": TOKENS[role], "csrf": csrf.group(1)}, follow_redirects=False)
        assert r.status_code == 303, r.text
        me = c.get("/api/me").json()
        return c, me["csrf"]


def write_tokens(path: Path) -> Path:
    from jitplan.agent.console.security import hash_token

    lines = ["tokens:"] + [f"  - {{role: {role}, region: eu, sha256: \"{hash_token(tok)}\", name: {role}-user}}"
                           for role, tok in TOKENS.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def chat_base(flags: Path, catalog: Path | None = None) -> dict[str, Any]:
    return {"catalog": str(catalog or WORLD / "catalog.yaml"), "signals": str(WORLD / "signals" / "steady.yaml"),
            "contracts": str(WORLD / "contracts.yaml"), "state": str(flags), "policy": None,
            "no_policy": False, "model": None, "replications": 2, "evidence": [str(WORLD / "evidence")]}


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    from fastapi.testclient import TestClient

    from jitplan.agent.console import ConsoleConfig, create_app
    from jitplan.agent.console.security import TokensFile

    flags = tmp_path / "flags.json"
    shutil.copy(WORLD / "flags.json", flags)
    tokens = write_tokens(tmp_path / "tokens.yaml")
    app = create_app(ConsoleConfig(tokens=TokensFile.from_file(tokens), chat_base=chat_base(flags),
                                   max_body_bytes=8192))
    with TestClient(app) as client:
        yield Console(client, app, flags, tokens)


@pytest.fixture
def cycle(console: Console) -> Callable[..., str]:
    """``cycle("enable refund-advisor", role="operator", apply=False, catalog=None)`` -> thread id."""

    def run(request: str, *, role: str = "operator", apply: bool = False, catalog: Path | None = None) -> str:
        from jitplan.agent.runtime import run_cycle
        from jitplan.contracts.agent import PlanRequest

        base = chat_base(console.flags, catalog)
        res = run_cycle(PlanRequest(**base, request=request, role=role, region="eu", apply=apply))
        return str(res.thread_id)

    return run
