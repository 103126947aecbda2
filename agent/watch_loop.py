"""``jitplan watch``: a long-running, event-driven planner.

Each round it takes the new snapshot files of the watched folder (oldest first; the listing is
polled) or polls the ``sources.yaml`` queries, and updates each feature's trigger state
(``agent.watch_triggers``). A feature whose state changed, and stayed so for ``debounce_s``, gets
a planning cycle of its own (``focus`` on it; the plan cache and the fast path apply as in
``jitplan plan``), one cycle per feature at a time: a cycle waiting for ``jitplan approve`` holds
its feature. With ``apply`` an approved plan runs through the orchestrator, gated on the same
live source.

Exactly once: a snapshot is recorded in the ledger (``tools.watch_ledger``) in the same
transaction as the trigger states it changed, after its audit record (idempotent by key); a
cycle's thread id is derived from its feature and trigger state, so a cycle killed half-way
resumes from its checkpoint instead of starting again. A malformed snapshot is moved to
``DIR/rejected/`` with a ``.reason`` file beside it (once it is ``settle_s`` old: a file still
being written is not judged). ``stop()`` (SIGTERM) ends the loop after the current step; an apply
waiting for fresh samples stops at once and resumes from its journal on the next start.
"""

from __future__ import annotations

__all__ = ["WatchConfig", "WatchStopped", "Watcher"]

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jitplan.agent.watch_folder import NewFile, SnapshotFolder, parse_snapshot
from jitplan.contracts.errors import JitplanError, UserError
from jitplan.contracts.signals import SignalSnapshot
from jitplan.tools.watch_ledger import FeatureRow, Ledger, ProcessedRow


class WatchStopped(BaseException):
    """Raised inside an apply's wait when the watch is asked to stop (the run resumes later)."""


@dataclass(frozen=True)
class WatchConfig:
    """What to watch and how (``jitplan watch`` options)."""

    catalog: str
    contracts: str
    role: str
    region: str
    signals_dir: str | None = None
    sources: str | None = None
    state: str | None = None
    evidence: tuple[str, ...] = ()
    policy: str | None = None
    no_policy: bool = False
    apply: bool = False
    interval_s: float = 1.0
    debounce_s: float = 0.0
    settle_s: float = 1.0
    replications: int = 10
    use_cache: bool = True
    max_cycles: int | None = None
    once: bool = False


@dataclass
class Watcher:
    """The watch loop (see the module docstring). ``emit`` receives one dict per event."""

    cfg: WatchConfig
    emit: Callable[[dict[str, Any]], None] = lambda e: None
    clock: Callable[[], float] = time.time
    stopping: threading.Event = field(default_factory=threading.Event)
    cycles: int = 0

    def __post_init__(self) -> None:
        from jitplan.contracts.catalog import Catalog
        from jitplan.contracts.home import jitplan_home
        from jitplan.contracts.signals import ContractSet

        self.catalog_obj = Catalog.from_file(self.cfg.catalog)
        self.contracts_obj = ContractSet.from_file(self.cfg.contracts)
        if self.cfg.state is not None:
            self._state()  # a bad flags file is bad input now
        if self.cfg.evidence:
            from jitplan.contracts.evidence import load_evidence

            load_evidence(self.cfg.evidence)  # so is bad evidence
        self.home = jitplan_home() / "watch"
        self.snap_dir = self.home / "snapshots"
        self.snap_dir.mkdir(parents=True, exist_ok=True)
        self.dir: Path | None = None
        self.prom: Any = None
        self.trigger_queries: list[Any] = []
        if self.cfg.signals_dir is not None:
            self.dir = Path(self.cfg.signals_dir)
            if not self.dir.is_dir():
                raise UserError("expected a directory of signal snapshots", source=self.cfg.signals_dir)
            scope = f"dir:{self.dir.resolve()}"
        elif self.cfg.sources is not None:
            from jitplan.tools.signal_sources.prometheus import PrometheusSource

            self.prom = PrometheusSource.from_file(self.cfg.sources, contracts=self.contracts_obj,
                                                   state=self.cfg.state, mode="instant")
            self.prom.spec.check_features(list(self.catalog_obj.ids), self.cfg.sources)
            # canary/shadow queries are gate inputs (a canary that is not running has no answer)
            self.trigger_queries = [q for q in self.prom.spec.signals if q.cohort in (None, "baseline")]
            if not self.trigger_queries:
                raise UserError("no query without a cohort (or for the baseline): jitplan watch has "
                                "nothing to watch; canary and shadow queries only gate an apply",
                                source=f"{self.cfg.sources}: signals")
            scope = f"sources:{Path(self.cfg.sources).resolve()}"
        else:
            raise UserError("give --signals-dir DIR or --sources SOURCES.yaml", source="watch")
        self.scope = scope
        self._lock_fd = self._exclusive(scope)
        self.ledger = Ledger(self.home / "ledger.db", scope)
        self.folder = SnapshotFolder(self.dir, self.ledger) if self.dir is not None else None
        self.last_poll = 0.0
        self.problems: tuple[str, ...] = ()
        from jitplan.tools.audit import AuditLog

        self.audit = AuditLog.open()

    # ---- helpers -------------------------------------------------------------------------

    def _state(self) -> Any:
        from jitplan.contracts.state import DeploymentState
        from jitplan.tools.flags import FlagStore

        return FlagStore(self.cfg.state).read() if self.cfg.state else DeploymentState()

    def _key(self, *parts: str) -> str:
        return "watch:" + hashlib.sha256("\x00".join((self.scope, *parts)).encode()).hexdigest()[:32]

    def _store(self, snap: SignalSnapshot) -> str:
        """The snapshot, content-addressed under the watch home (a cycle's inputs never change)."""
        sha = snap.digest()
        path = self.snap_dir / f"{sha}.json"
        if not path.exists():
            tmp = path.with_name(f".{sha}.{os.getpid()}.tmp")
            tmp.write_text(snap.model_dump_json())
            os.replace(tmp, path)
        return str(path)

    def stop(self) -> None:
        """Finish the current step, then return from ``run`` (SIGTERM)."""
        self.stopping.set()

    def _exclusive(self, scope: str) -> int:
        """One watch per folder or sources file (an advisory lock the kernel drops if killed)."""
        import fcntl

        lock = self.home / f".{hashlib.sha256(scope.encode()).hexdigest()[:16]}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError("another jitplan watch is already watching this; stop it first",
                            source=self.cfg.signals_dir or self.cfg.sources or "watch") from None
        return fd

    def close(self) -> None:
        self.ledger.close()
        self.audit.close()
        os.close(self._lock_fd)

    # ---- snapshots -----------------------------------------------------------------------

    def process_file(self, f: NewFile) -> None:
        """One new snapshot file: rejected when malformed, else its trigger states recorded."""
        assert self.folder is not None
        name = f.path.name
        try:
            snap = parse_snapshot(f.path, f.data)
        except UserError as exc:
            if self.clock() - f.mtime < self.cfg.settle_s:
                return  # maybe still being written: judged on a later round
            reason = str(exc)
            self.audit.append("watch_rejected", {"file": name, "sha256": f.sha256, "reason": reason},
                              key=self._key("rejected", name, f.sha256))
            self.ledger.record(ProcessedRow(name, f.sha256, f.mtime_ns, f.size, "rejected", reason))
            self.folder.remember(f, "rejected")
            self.folder.reject(f.path, reason)
            self.emit({"event": "rejected", "file": name, "reason": reason})
            return
        changed = self.observe(snap, ProcessedRow(name, f.sha256, f.mtime_ns, f.size, "ok"))
        self.folder.remember(f, "ok")
        self.emit({"event": "snapshot", "file": name, "signals": len(snap.signals),
                   "changed": {r.feature: json.loads(r.observed) for r in changed}})

    def observe(self, snap: SignalSnapshot, row: ProcessedRow | None, skip: frozenset[str] = frozenset()) -> list[FeatureRow]:
        """Record a snapshot's trigger states (and ``row``) in one ledger transaction."""
        from jitplan.agent.watch_triggers import trigger_states

        states = trigger_states(snap, self.contracts_obj, self.catalog_obj, self._state(), skip=skip)
        rows = self.ledger.features()
        changed: list[FeatureRow] = []
        stored = ""
        for feature, observed in states.items():
            old = rows.get(feature) or FeatureRow(feature, fired="[]")
            if old.observed == observed:
                continue
            stored = stored or self._store(snap)
            changed.append(replace(old, observed=observed, snapshot=stored, changed_at=self.clock()))
        if row is not None:
            self.audit.append("watch_snapshot", {"file": row.name, "sha256": row.sha256,
                                                 "observed_at": snap.observed_at.isoformat(),
                                                 "changed": {r.feature: json.loads(r.observed) for r in changed}},
                              key=self._key("snapshot", row.name, row.sha256))
        if row is not None or changed:
            self.ledger.record(row, changed)
        return changed

    def poll_sources(self) -> bool:
        """One poll of the Prometheus queries; a feature whose query failed keeps its state."""
        now = self.clock()
        at, outcomes = datetime.fromtimestamp(now, UTC), [self.prom.query(q, now) for q in self.trigger_queries]
        problems = tuple(f"{o.query.name}: {o.problem}" for o in outcomes if not o.ok)
        if problems != self.problems:
            self.problems = problems
            if problems:
                self.audit.append("watch_inconclusive", {"source": self.cfg.sources, "problems": list(problems)})
            self.emit({"event": "inconclusive" if problems else "source_ok", "problems": list(problems)})
        good = [s for o in outcomes for s in o.signals]
        if not good:
            return False
        skip = frozenset(o.query.feature for o in outcomes if not o.ok)
        snap = SignalSnapshot(observed_at=at, signals=good[-10_000:])
        changed = self.observe(snap, None, skip)
        if changed:
            self.emit({"event": "snapshot", "file": "prometheus", "signals": len(good),
                       "changed": {r.feature: json.loads(r.observed) for r in changed}})
        return bool(changed)

    # ---- cycles --------------------------------------------------------------------------

    def _request(self, row: FeatureRow) -> Any:
        from jitplan.contracts.agent import PlanRequest

        return PlanRequest(catalog=self.cfg.catalog, signals=row.snapshot, contracts=self.cfg.contracts,
                           state=self.cfg.state, evidence=self.cfg.evidence, policy=self.cfg.policy, no_policy=self.cfg.no_policy,
                           role=self.cfg.role, region=self.cfg.region, focus=(row.feature,),
                           replications=self.cfg.replications, use_cache=self.cfg.use_cache)

    def run_cycle(self, row: FeatureRow) -> FeatureRow:
        """Plan (or resume planning) the feature's current trigger state."""
        from jitplan.agent.runtime import run_cycle

        if row.cycle_status != "running":
            # the same situation recurring later is a new cycle; a restart finds this one again
            digest = hashlib.sha256(f"{self.scope}\x00{row.feature}\x00{row.observed}\x00{row.snapshot}"
                                    f"\x00{row.changed_at!r}".encode())
            row = self.ledger.update(row, thread_id=f"watch-{digest.hexdigest()[:16]}", cycle_sig=row.observed,
                                     cycle_status="running", decision="", apply_status="")
        t0 = time.perf_counter()
        result = run_cycle(self._request(row), thread_id=row.thread_id)
        self.cycles += 1
        waiting = result.status == "interrupted"
        row = self._settle(row, result, "waiting" if waiting else "done")
        self.emit({"event": "cycle", "feature": row.feature, "thread_id": row.thread_id,
                   "decision": result.decision, "status": result.status, "fast_path": result.fast_path,
                   "cache_hit": result.cache_hit, "ms": round((time.perf_counter() - t0) * 1000, 3),
                   "triggers": json.loads(row.cycle_sig)})
        if waiting:
            self.emit({"event": "waiting", "feature": row.feature, "thread_id": row.thread_id,
                       "hint": f"jitplan approve {row.thread_id}"})
        return row

    def _settle(self, row: FeatureRow, result: Any, status: str) -> FeatureRow:
        approved = result.decision == "approved" and self.cfg.apply and result.plan is not None
        return self.ledger.update(row, cycle_status=status, decision=result.decision or "",
                                  fired=row.cycle_sig if status == "done" else row.fired,
                                  apply_status="pending" if status == "done" and approved else "")

    def check_waiting(self, row: FeatureRow) -> FeatureRow:
        """A cycle waiting for ``jitplan approve``: settled once a human decided."""
        from jitplan.agent.runtime import load_result

        result = load_result(row.thread_id)
        if result.status == "interrupted":
            return row
        row = self._settle(row, result, "done")
        self.emit({"event": "decided", "feature": row.feature, "thread_id": row.thread_id,
                   "decision": result.decision})
        return row

    def _sleep(self, s: float) -> None:
        if self.stopping.wait(s):
            raise WatchStopped

    def apply(self, row: FeatureRow) -> FeatureRow:
        """Run the approved plan of the feature's cycle through the orchestrator (live gates)."""
        from jitplan.agent.orchestrator import apply_plan
        from jitplan.agent.runtime import load_result
        from jitplan.contracts.plan import Plan
        from jitplan.tools.flags import FlagStore
        from jitplan.tools.signal_source import FolderSource

        if not self.cfg.state:
            raise UserError("--apply needs --state FLAGS (the flag store to change)", source="--state")
        plan = Plan.model_validate(load_result(row.thread_id).plan)
        source: Any
        if self.prom is not None:
            from jitplan.tools.signal_sources.prometheus import PrometheusSource

            source = PrometheusSource(self.prom.spec, contracts=self.contracts_obj, state=self.cfg.state,
                                      mode="range", name=str(self.cfg.sources))
        else:
            assert self.dir is not None
            source = FolderSource(self.dir, contracts=self.contracts_obj)
        result = apply_plan(plan, FlagStore(self.cfg.state), signals=source, audit=self.audit,
                            thread_id=row.thread_id, sleep=self._sleep)
        row = self.ledger.update(row, apply_status=result.status)
        self.emit({"event": "applied", "feature": row.feature, "thread_id": row.thread_id,
                   "status": result.status, "reason": result.reason})
        return row

    def advance(self) -> bool:
        """Settle decided approvals, run pending applies and the cycles that are due."""
        did = False
        now = self.clock()
        for row in sorted(self.ledger.features().values(), key=lambda r: r.feature):
            if self.stopping.is_set() or self._cycles_done():
                break
            try:
                did = self._advance(row, now) or did
            except JitplanError as exc:  # one feature's failure does not stop the watch
                self._failed(row.feature, exc)
                did = True
        return did

    def _advance(self, row: FeatureRow, now: float) -> bool:
        did = False
        if row.cycle_status == "waiting":
            row = self.check_waiting(row)
            did = row.cycle_status == "done"
        if row.cycle_status == "running":  # killed half-way: resume its checkpoint
            row = self.run_cycle(row)
            did = True
        if row.apply_status == "pending":
            row = self.apply(row)
            did = True
        if (not row.busy and row.observed and row.observed != row.fired
                and (self.cfg.once or now - row.changed_at >= self.cfg.debounce_s)):
            row = self.run_cycle(row)
            did = True
            if row.apply_status == "pending" and not self.stopping.is_set():
                self.apply(row)
        return did

    def _failed(self, feature: str, exc: JitplanError) -> None:
        """A cycle or apply that failed: recorded, and not retried until the triggers change."""
        row = self.ledger.features()[feature]
        if row.apply_status == "pending":
            row = self.ledger.update(row, apply_status="error")
        else:
            row = self.ledger.update(row, cycle_status="done", decision="error", fired=row.cycle_sig or row.observed)
        payload = {"feature": feature, "thread_id": row.thread_id, "error": str(exc)[:2000],
                   "exit_code": exc.exit_code}
        self.audit.append("watch_error", payload)
        self.emit({"event": "error", **payload})

    def _cycles_done(self) -> bool:
        return self.cfg.max_cycles is not None and self.cycles >= self.cfg.max_cycles

    def step(self) -> bool:
        """One round: new snapshots (or a poll), then cycles. True when anything happened."""
        did = False
        if self.folder is not None:
            for f in self.folder.new_files():
                if self.stopping.is_set() or self._cycles_done():
                    return True
                self.process_file(f)
                self.advance()  # each crossing its own cycle (unless debounced)
                did = True
        elif self.clock() - self.last_poll >= self.cfg.interval_s:
            self.last_poll = self.clock()
            did = self.poll_sources()
        return self.advance() or did

    def pending(self) -> bool:
        """Work left that a later round would do (debounced triggers, unsettled files)."""
        rows = self.ledger.features().values()
        return any(r.observed != r.fired and not r.busy for r in rows if r.observed)

    def run(self) -> int:
        """Loop until stopped (``--once``: until idle; ``--max-cycles``: until that many ran)."""
        self.emit({"event": "started", "scope": self.scope, "processed": self.folder.count if self.folder else 0,
                   "at": datetime.now(UTC).isoformat()})
        try:
            while not self.stopping.is_set() and not self._cycles_done():
                try:
                    did = self.step()
                except WatchStopped:
                    break
                if self.cfg.once and not did and not self.pending() and not self._unsettled():
                    break
                if not did:
                    self.stopping.wait(self.cfg.interval_s if self.prom is None else min(self.cfg.interval_s, 0.2))
        finally:
            why = "signal" if self.stopping.is_set() else "max-cycles" if self._cycles_done() else "idle"
            self.audit.append("watch_stopped", {"scope": self.scope, "cycles": self.cycles, "why": why})
            self.emit({"event": "stopped", "cycles": self.cycles})
        return 0

    def _unsettled(self) -> bool:
        """A file too young to judge yet (``--once`` waits for it)."""
        return self.folder is not None and self.folder.unsettled()
