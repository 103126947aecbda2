"""What every node shares: reloading the cycle's inputs, audit writes, crash injection."""

from __future__ import annotations

__all__ = [
    "CRASH_ENV",
    "CycleInputs",
    "audit",
    "audit_log",
    "inputs_of",
    "load_inputs",
    "maybe_crash",
    "node_span",
    "statuses_of",
]

import contextlib
import functools
import hashlib
import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jitplan.contracts.settings import get_settings

if TYPE_CHECKING:
    from jitplan.agent.state import CycleState
    from jitplan.contracts.agent import PlanRequest
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.policy import PolicyRequest
    from jitplan.contracts.signals import ContractSet, SignalSnapshot, SignalStatus
    from jitplan.contracts.state import DeploymentState
    from jitplan.tools.policy import PolicyBundle

CRASH_ENV = "JITPLAN_CRASH_AT"
"""Test-only fault injection: ``JITPLAN_CRASH_AT=<node>`` SIGKILLs the process inside that node
(after its side effects, before its checkpoint)."""


@dataclass(frozen=True)
class CycleInputs:
    """The loaded inputs of one cycle (rebuilt from paths; never checkpointed)."""

    request: PlanRequest
    catalog: Catalog
    snapshot: SignalSnapshot
    contracts: ContractSet
    state: DeploymentState
    policy: PolicyBundle
    """The default bundle, the one named, or ``PolicyBundle.no_policy()`` (``--no-policy``)."""
    now: datetime | None
    evidence: Any = None
    """The catalog's ``EvidenceIndex`` (``--evidence``; empty without)."""
    evidence_sha256: str | None = None

    @property
    def policy_request(self) -> PolicyRequest:
        from jitplan.contracts.policy import PolicyRequest

        return PolicyRequest(role=self.request.role, region=self.request.region,
                             purpose=self.request.request[:500])

    def hashes(self) -> dict[str, str | None]:
        """The approval handshake's ``inputs`` block."""
        return dict(self._hashes)

    @functools.cached_property
    def _hashes(self) -> dict[str, str | None]:
        r = self.request
        return {
            "catalog_path": r.catalog,
            "catalog_sha256": self.catalog.digest(),
            "policy_dir": self.policy.path,
            "policy_sha256": self.policy.sha256,
            "state_path": r.state,
            "state_sha256": self.state.digest() if r.state else None,
            "signals_path": r.signals,
            "signals_sha256": self.snapshot.digest(),
            **({"evidence_sha256": self.evidence_sha256} if self.evidence_sha256 else {}),
        }

    def seed_id(self) -> str:
        """A stable hash of everything a plan depends on (for deterministic plan ids)."""
        return self._seed_id

    @functools.cached_property
    def _seed_id(self) -> str:
        h = self._hashes
        blob = json.dumps({**h, "request": self.request.request, "role": self.request.role,
                           "region": self.request.region, "now": self.request.now,
                           **({"focus": list(self.request.focus)} if self.request.focus else {})},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


_CACHE: dict[str, CycleInputs] = {}
_LOCK = threading.Lock()


def _stamp(path: str | None, pattern: str = "*.rego") -> list[Any]:
    if not path:
        return [None]
    p = Path(path)
    try:
        if p.is_dir():
            return [path, sorted((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in p.rglob(pattern))]
        st = p.stat()
        return [path, st.st_mtime_ns, st.st_size]
    except OSError:
        return [path, None]


_DOCS: dict[str, Any] = {}


def _parsed(kind: str, path: str | None, load: Callable[[], Any]) -> Any:
    """A catalog, contracts file or policy bundle parsed once per (path, mtime, size): a warm
    process (``jitplan watch``) re-reads only the inputs that changed, not each new snapshot's."""
    key = json.dumps([kind, *_stamp(path)], default=str)  # no path (the shipped policy): [kind, None]
    with _LOCK:
        hit = _DOCS.get(key)
    if hit is None:
        hit = load()
        with _LOCK:
            if len(_DOCS) > 64:
                _DOCS.clear()
            _DOCS[key] = hit
    return hit


def load_inputs(inputs: dict[str, Any]) -> CycleInputs:
    """Load (or reuse, when no file changed) the inputs named by a ``PlanRequest`` dict."""
    from jitplan.contracts.agent import PlanRequest
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.loading import format_validation_error, load_document
    from jitplan.contracts.signals import ContractSet, SignalSnapshot
    from jitplan.contracts.state import DeploymentState

    try:
        req = PlanRequest.model_validate(inputs)
    except Exception as exc:  # pydantic ValidationError
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            raise format_validation_error(exc, "<plan request>") from None
        raise
    key = json.dumps([req.model_dump(mode="json"), *(_stamp(p) for p in
                      (req.catalog, req.signals, req.contracts, req.state, req.policy)),
                      *(_stamp(p, "*") for p in req.evidence)],
                     sort_keys=True, default=str)
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    catalog = _parsed("catalog", req.catalog, lambda: Catalog.from_file(req.catalog))
    snapshot = SignalSnapshot.from_file(req.signals)
    if req.contracts is None and snapshot.signals:
        from jitplan.contracts.errors import UserError

        raise UserError(f"{len(snapshot.signals)} signal(s) in {req.signals} but no data contracts: "
                        "every signal would be quarantined and nothing planned from them; "
                        "give --contracts CONTRACTS.yaml (as `jitplan signals check` requires)",
                        source="--contracts")
    contracts = (_parsed("contracts", req.contracts, lambda: ContractSet.from_file(str(req.contracts)))
                 if req.contracts else ContractSet())
    state = (DeploymentState.from_flagd(load_document(req.state), source=req.state)
             if req.state else DeploymentState())
    from jitplan.tools.policy import PolicyBundle

    if req.no_policy:  # explicit opt-out: audited by govern, and decide always escalates
        policy = PolicyBundle.no_policy()
    else:  # policy is on by default: the shipped bundle unless another is named
        policy = _parsed("policy", req.policy, lambda: PolicyBundle.load(str(req.policy)) if req.policy
                         else PolicyBundle.default())
    now = None
    if req.now:
        from jitplan.contracts.errors import UserError

        try:
            now = datetime.fromisoformat(req.now.replace("Z", "+00:00"))
        except ValueError:
            raise UserError("expected an RFC 3339 timestamp such as 2026-11-26T12:00:00Z",
                            source="--now") from None
        if now.tzinfo is None:
            raise UserError("expected a timezone (e.g. ...Z)", source="--now")
    from jitplan.contracts.evidence import EvidenceSet, load_evidence
    from jitplan.tools.evidence import index_evidence

    ev = load_evidence(req.evidence) if req.evidence else EvidenceSet()
    evidence = index_evidence(catalog, ev, now=now or snapshot.observed_at)
    loaded = CycleInputs(req, catalog, snapshot, contracts, state, policy, now, evidence,
                         ev.digest() if req.evidence else None)
    with _LOCK:
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[key] = loaded
    return loaded


def inputs_of(state: CycleState) -> CycleInputs:
    return load_inputs(state["inputs"])


def statuses_of(state: CycleState) -> list[SignalStatus]:
    """The checked signals stored by perceive, as contracts again."""
    from jitplan.contracts.signals import SignalStatus

    return [SignalStatus.model_validate(s) for s in state.get("signals", [])]


_LOGS: dict[tuple[int, str, str], Any] = {}


def audit_log() -> Any:
    """One open audit log per (thread, JITPLAN_HOME, JITPLAN_AUDIT_URL): opening costs ~15 ms."""
    from jitplan.tools.audit import AuditLog

    settings = get_settings()
    key = (threading.get_ident(), str(settings.home), settings.audit_url or "")
    with _LOCK:
        log = _LOGS.get(key)
    if log is None:
        log = AuditLog.open()
        with _LOCK:
            if len(_LOGS) > 16:
                # close only the logs of threads that have ended: another thread may be in the
                # middle of an append on its own (closing it there broke its connection)
                live = {t.ident for t in threading.enumerate()}
                for k in [k for k in _LOGS if k[0] not in live]:
                    with contextlib.suppress(Exception):
                        _LOGS.pop(k).close()
            _LOGS[key] = log
    return log


def audit(state: CycleState, node: str, n: int, kind: str, payload: dict[str, Any]) -> None:
    """Append one audit record, exactly once per ``(thread, node, n)`` even when a node reruns."""
    tid = state["thread_id"]
    audit_log().append(kind, payload, thread_id=tid, key=f"{tid}:{node}:{n}")


def maybe_crash(node: str) -> None:
    """SIGKILL this process when ``JITPLAN_CRASH_AT`` names ``node`` (crash-safety tests)."""
    if get_settings().crash_at == node:
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def node_span(node: str, state: CycleState) -> Iterator[Any]:
    """A telemetry span around one node run (``jitplan.node.<name>``)."""
    from jitplan.agent.nodes.human import outside_graph
    from jitplan.tools.telemetry import setup_telemetry, span

    setup_telemetry()
    plan = state.get("plan")
    plan_id = plan.get("id") if isinstance(plan, dict) else None
    # outside the graph (agent.direct), a node that raises (or asks a human) is run again by
    # the graph, which traces that run: this one's span is dropped, so each run is traced once
    with span(f"jitplan.node.{node}", attrs={"jitplan.thread_id": state.get("thread_id", ""),
                                              "jitplan.node": node, "jitplan.plan_id": plan_id},
              abandon_on=(Exception,) if outside_graph() else ()) as sp:
        yield sp
