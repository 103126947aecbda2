"""Cassettes: a real model's answers for one regression case, recorded once and replayed offline.

``jitplan regress SUITE.yaml --record --model M`` stores, for each planning case whose planner
is ``recorded``, the model's chat completions in OpenAI's wire format at
``SUITE.recordings/<case>.json`` (the ``exchanges: [{response: ...}]`` layout that
``tests/agent/replay_server.py`` serves too). A cassette carries a fingerprint: the sha256 of
every input the conversation depends on (catalog, contracts, signals, state, policy, evidence,
the request) and of what the model was shown (system prompt, tool schemas, first user message).
On replay, any difference names the case and what changed, and the case fails.
"""

from __future__ import annotations

__all__ = [
    "FORMAT",
    "INPUT_PARTS",
    "PROMPT_PARTS",
    "Cassette",
    "RecordedRequest",
    "changed",
    "input_fingerprint",
    "prompt_fingerprint",
    "replay_model",
]

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jitplan.contracts.errors import UserError
from jitplan.contracts.loading import format_validation_error

if TYPE_CHECKING:
    from jitplan.contracts.suite import PlanningCase

FORMAT = "jitplan.cassette/v1"
INPUT_PARTS: tuple[str, ...] = ("catalog", "contracts", "signals", "state", "policy", "evidence", "request")
"""Fingerprint parts computed from the case's files before running (a change skips the run)."""
PROMPT_PARTS: tuple[str, ...] = ("system_prompt", "tools", "user_prompt")
"""Fingerprint parts computed from the first request the planner sends."""
_LABELS = {"system_prompt": "system prompt", "tools": "tool schemas",
           "user_prompt": "first user message (the data the model is shown)"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _path_sha(path: str | None) -> str:
    """sha256 of a file's bytes, or of a folder's relative paths and file bytes (sorted)."""
    if path is None:
        return _sha(b"(none)")
    p = Path(path)
    if p.is_file():
        return _sha(p.read_bytes())
    h = hashlib.sha256()
    for f in sorted(x for x in p.rglob("*") if x.is_file()):
        h.update(f.relative_to(p).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def input_fingerprint(case: PlanningCase) -> dict[str, str]:
    """The sha256 of each input file of a (resolved) planning case, and of its request fields."""
    h = hashlib.sha256()
    for e in case.evidence:
        h.update(_path_sha(e).encode())
    request = {"request": case.request, "role": case.role, "region": case.region, "now": case.now}
    return {
        "catalog": _path_sha(case.catalog), "contracts": _path_sha(case.contracts),
        "signals": _path_sha(case.signals), "state": _path_sha(case.state),
        "policy": _path_sha(case.policy), "evidence": h.hexdigest(),
        "request": _sha(json.dumps(request, sort_keys=True).encode()),
    }


def _content(msg: Any) -> str:
    c = msg.get("content") if isinstance(msg, dict) else None
    return c if isinstance(c, str) else json.dumps(c, sort_keys=True)


def prompt_fingerprint(body: dict[str, Any]) -> dict[str, str]:
    """The sha256 of the system prompt, the tool schemas and the first user message of a request."""
    msgs = body.get("messages") or []
    return {
        "system_prompt": _sha(_content(msgs[0] if msgs else None).encode()),
        "tools": _sha(json.dumps(body.get("tools") or [], sort_keys=True, separators=(",", ":")).encode()),
        "user_prompt": _sha(_content(msgs[1] if len(msgs) > 1 else None).encode()),
    }


def changed(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """``"<part> changed (sha256 abc… -> def…)"`` for every part whose hash differs."""
    out = []
    for part, now in current.items():
        was = recorded.get(part)
        if was != now:
            out.append(f"{_LABELS.get(part, part)} changed since the recording "
                       f"(sha256 {(was or 'none')[:12]} -> {now[:12]})")
    return out


def replay_model(model: str) -> str:
    """The litellm model the planner calls in record and replay: OpenAI's protocol to the local
    server, named after the recorded model (``ollama/llama3.1`` -> ``openai/llama3.1``)."""
    return "openai/" + model.split("/", 1)[-1]


class RecordedRequest(BaseModel):
    """What the planner sent for one exchange: message count and the body's sha256."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: int = Field(ge=1)
    sha256: str


class _Exchange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    response: dict[str, Any]


class Cassette(BaseModel):
    """One case's recorded conversation (every draft of the cycle, in request order)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str = Field(default=FORMAT, pattern=r"^jitplan\.cassette/v1$")
    case: str
    suite: str
    model: str
    """The model that answered (``--model`` at record time)."""
    replay_model: str
    recorded_at: str
    recorded_with: dict[str, str] = Field(default_factory=dict)
    note: str = ""
    fingerprint: dict[str, str]
    requests: tuple[RecordedRequest, ...]
    exchanges: tuple[_Exchange, ...] = Field(min_length=1)

    @property
    def responses(self) -> list[dict[str, Any]]:
        return [e.response for e in self.exchanges]

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=1, sort_keys=False) + "\n"

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        """Read a cassette; a malformed one is a ``UserError`` naming the file and field."""
        source = str(path)
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UserError(f"cannot read the recording: {exc.strerror or exc}", source=source) from None
        except json.JSONDecodeError as exc:
            raise UserError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                            source=source) from None
        try:
            cas = cls.model_validate(doc)
        except ValidationError as exc:
            raise format_validation_error(exc, source) from None
        if len(cas.requests) != len(cas.exchanges):
            raise UserError(f"{len(cas.requests)} requests for {len(cas.exchanges)} exchanges",
                            source=source, field="requests")
        missing = [p for p in (*INPUT_PARTS, *PROMPT_PARTS) if p not in cas.fingerprint]
        if missing:
            raise UserError(f"missing part {missing[0]!r}", source=source, field="fingerprint")
        return cas
