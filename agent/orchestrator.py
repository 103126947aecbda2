"""The saga orchestrator: apply an approved plan step by step, gate each step, compensate.

Order: steps in dependency order (``depends_on``; ties keep plan order). A ``refresh_prompt``
step runs as three units — ``<id>#shadow``, ``<id>#canary``, ``<id>#promote`` — each gated,
recording expected (``params.expected_quality``) vs observed quality.

Crash safety: a per-run journal (``<home>/runs/<run-id>.json``, replaced atomically; the run id
is the sha256 of the plan digest and the flags file's path) records each unit *before* the flags file is written (with the state digest before and after)
and marks it done after. On restart the flags file's digest says whether an in-flight unit
landed, so nothing is applied twice; a run that was compensating keeps compensating. Audit
records use idempotency keys ``<run-id>:<event>:<unit>`` so a resumed run never duplicates.

Gate after each unit (``tools.gate``): fail (or a timeout, or an error) -> compensations of the
completed units in reverse order, each restoring the feature exactly as it was, then the
original file bytes are put back (byte-for-byte identical); inconclusive -> pause and escalate
(re-run ``jitplan apply`` to re-judge, ``--abort`` to compensate); marginal -> continue, recorded.
A compensation that keeps failing is retried ``max_attempts`` times, then the run is left as
``needs_operator`` (audited, non-zero exit); re-running retries it.

Fresh data (``agent.stage_gate``): each unit's gate uses only samples observed after the unit's
flags were written (``JournalEntry.applied_at``), never the samples an earlier stage was judged on. While they are
missing (the gate is inconclusive) and the signal source is live (a watched folder, or a snapshot
file someone rewrites), the gate re-reads it every ``poll_s`` until the step's ``timeout_s`` after
the stage began; then the unit is inconclusive and the run pauses.

Retry: a compensated run is final; ``retry=True`` (``jitplan apply --retry``) archives its journal
as ``<run-id>.attempt-<n>.json``, audits a ``retry`` record and starts attempt n+1 of the same
approved plan with its own journal (audit keys ``<run-id>#<n+1>:...``).

Timeouts: a unit whose apply + ``step_wait_s`` + gate takes longer than its step's ``timeout_s``
fails its gate (time spent waiting for fresh samples ends in a pause instead). Signals that cannot be read pause (inconclusive). If the flags file changed
outside the run (e.g. another plan applied meanwhile), a resumed run stops as ``needs_operator``
(conflict) and touches nothing; ``--abort`` still tries to compensate. One apply at a time per
flags file (an advisory ``flock`` next to it, dropped by the kernel if the process dies).
"""

from __future__ import annotations

__all__ = [
    "MAX_COMPENSATION_ATTEMPTS",
    "Unit",
    "apply_plan",
    "approval_problem",
    "journal_path",
    "latest_approval",
    "plan_units",
    "run_id",
]

import hashlib
import os
import signal as _signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jitplan.agent.approval import approval_problem, latest_approval
from jitplan.agent.execution_units import Unit, plan_units
from jitplan.agent.stage_gate import StageGate
from jitplan.contracts.errors import RunError, UserError
from jitplan.contracts.execution import (
    ExecutionResult,
    ExecutionStatus,
    JournalEntry,
    RunJournal,
    RunPhase,
    StepOutcome,
)
from jitplan.contracts.home import jitplan_home
from jitplan.contracts.plan import Plan
from jitplan.contracts.settings import get_settings
from jitplan.contracts.signals import SignalSnapshot
from jitplan.tools.audit import AuditLog
from jitplan.tools.flags import (
    FlagStore,
    StepError,
    atomic_write_bytes,
    restore_feature,
)
from jitplan.tools.gate import GateConfig
from jitplan.tools.signal_source import SignalSource, StaticSource
from jitplan.tools.telemetry import span

MAX_COMPENSATION_ATTEMPTS = 3
POLL_S = 1.0
"""How often a gate re-reads a live signal source while it waits for fresh samples."""


def _crash_point(label: str) -> None:
    """Fault injection for the crash tests: SIGKILL ourselves at a named point."""
    if get_settings().crash_at == label:  # pragma: no cover - the process dies here
        os.kill(os.getpid(), _signal.SIGKILL)


def run_id(plan: Plan, store: FlagStore) -> str:
    """One run per (plan, flags file): the same plan may be applied to a staging and a prod file."""
    return hashlib.sha256(f"{plan.digest()}\n{store.path.resolve()}".encode()).hexdigest()


def _utcnow() -> datetime:
    return datetime.now(UTC)


def journal_path(plan: Plan, store: FlagStore, runs_dir: Path | None = None) -> Path:
    """Where the crash-safe journal of applying ``plan`` to ``store`` lives."""
    return (runs_dir or jitplan_home(create=False) / "runs") / f"{run_id(plan, store)}.json"


class _Saga:
    def __init__(
        self, plan: Plan, store: FlagStore, signals: SignalSource, audit: AuditLog | None,
        thread_id: str | None, step_wait_s: float, gate: GateConfig, runs_dir: Path,
        max_attempts: int, retry_delay_s: float, sleep: Callable[[float], None],
        clock: Callable[[], datetime], poll_s: float,
    ) -> None:
        self.plan, self.store, self.signals, self.audit = plan, store, signals, audit
        self.thread_id, self.step_wait_s, self.gate = thread_id, step_wait_s, gate
        self.max_attempts, self.retry_delay_s, self.sleep = max_attempts, retry_delay_s, sleep
        self.clock = clock
        self.sha = plan.digest()
        self.stages = StageGate(signals, gate, clock, sleep, poll_s, self.sha, audit, thread_id)
        self.run_id = run_id(plan, store)
        self.path = runs_dir / f"{self.run_id}.json"
        self.attempt = 1 + len(list(runs_dir.glob(f"{self.run_id}.attempt-*.json")))
        self.steps: list[StepOutcome] = []
        self.comps: list[StepOutcome] = []
        self.evo: list[dict[str, float | str | None]] = []
        self.resumed = False

    # ---- journal and audit -------------------------------------------------------------

    def load(self) -> RunJournal | None:
        if not self.path.exists():
            return None
        try:
            return RunJournal.model_validate_json(self.path.read_bytes())
        except ValueError as exc:
            raise UserError(f"corrupt run journal: {str(exc).splitlines()[0]}", source=str(self.path)) from None

    def save(self, j: RunJournal) -> RunJournal:
        atomic_write_bytes(self.path, (j.model_dump_json(indent=2) + "\n").encode())
        return j

    def update(self, j: RunJournal, **changes: Any) -> RunJournal:
        """Save the journal with ``changes`` applied."""
        return self.save(j.model_copy(update=changes))

    def record(self, kind: str, payload: dict[str, Any], key: str | None = None) -> None:
        if self.audit is not None:
            body = {"plan_id": self.plan.id, "plan_sha256": self.sha, **payload}
            prefix = self.run_id if self.attempt == 1 else f"{self.run_id}#{self.attempt}"
            self.audit.append(kind, body, thread_id=self.thread_id, key=f"{prefix}:{key}" if key else None)

    def enter(self, j: RunJournal, phase: RunPhase, reason: str, event: str,
              payload: dict[str, Any] | None = None, key: str | None = None) -> RunJournal:
        """Move the run to ``phase``: the audit record first (idempotent by ``key``), then the journal."""
        self.record(event, {**(payload or {}), "reason": reason}, key)
        return self.update(j, phase=phase, reason=reason)

    def stop(self, j: RunJournal, phase: RunPhase, reason: str, event: str,
             payload: dict[str, Any] | None = None, key: str | None = None) -> ExecutionResult:
        """``enter`` a phase the run stops in, and its result."""
        return self.result(self.enter(j, phase, reason, event, payload, key), phase.value, reason)  # type: ignore[arg-type]

    def result(self, j: RunJournal, status: ExecutionStatus, reason: str = "") -> ExecutionResult:
        cur = self.store.read()
        return ExecutionResult(
            plan_id=self.plan.id, plan_sha256=self.sha, status=status, reason=reason or j.reason,
            steps=self.steps, compensations=self.comps, state_before_sha256=j.original_state_sha256,
            state_after_sha256=cur.digest(), resumed=self.resumed, expected_vs_observed=self.evo,
            attempt=j.attempt,
        )

    # ---- the run ------------------------------------------------------------------------

    def dry_run(self, units: list[Unit]) -> ExecutionResult:
        state = self.store.read()
        before = state.digest()
        reason = ""
        for u in units:
            try:
                new = u.apply(state)
            except StepError as exc:
                self.steps.append(StepOutcome(step_id=u.name, action=u.action, feature=u.step.feature, status="failed", error=str(exc)))
                reason = f"step {u.name} would fail: {exc}"
                break
            self.steps.append(StepOutcome(
                step_id=u.name, action=u.action, feature=u.step.feature, status="dry_run",
                state_before_sha256=state.digest(), state_after_sha256=new.digest(),
            ))
            state = new
        return ExecutionResult(
            plan_id=self.plan.id, plan_sha256=self.sha, status="dry_run", reason=reason,
            steps=self.steps, state_before_sha256=before, state_after_sha256=state.digest(),
        )

    def new_attempt(self, j: RunJournal | None) -> None:
        """Archive a compensated run's journal so the next ``run`` starts the next attempt."""
        if j is None or j.phase != RunPhase.COMPENSATED:
            what = "there is no run of this plan on this flags file" if j is None else f"the run is {j.phase.value}"
            raise UserError(f"nothing to retry: {what}; --retry starts a new attempt after a compensated run",
                            source="--retry")
        self.attempt = j.attempt + 1
        archived = self.path.with_name(f"{self.run_id}.attempt-{j.attempt}.json")
        self.record("retry", {"attempt": self.attempt, "previous_attempt": j.attempt,
                              "previous_reason": j.reason, "previous_journal": archived.name}, "retry")
        os.replace(self.path, archived)

    def run(self, units: list[Unit], abort: bool, retry: bool) -> ExecutionResult:
        j = self.load()
        if retry:
            self.new_attempt(j)
            j = None
        if j is None:
            original = self.store.read_bytes()
            state0 = self.store.read()
            osha = self.store.archive(original)
            j = self.save(RunJournal(
                plan_id=self.plan.id, plan_sha256=self.sha, phase=RunPhase.APPLYING, attempt=self.attempt,
                original_sha256=osha, original_state_sha256=state0.digest(),
            ))
            self.record("execution_started", {"state_sha256": state0.digest(), "file_sha256": osha,
                                              "units": [u.name for u in units], "attempt": self.attempt}, "started")
        else:
            self.resumed = True
            self.attempt = j.attempt
        if j.phase in (RunPhase.APPLIED, RunPhase.COMPENSATED):
            for e in j.entries:
                st = "already_applied" if j.phase == RunPhase.APPLIED else "compensated"
                unit = next((u for u in units if u.name == e.unit), None)
                self.steps.append(StepOutcome(step_id=e.unit, action=unit.action if unit else "", feature=e.feature,
                                              status=st, state_before_sha256=e.before_sha256,  # type: ignore[arg-type]
                                              state_after_sha256=e.after_sha256))
            hint = " (jitplan apply --retry starts a new attempt)" if j.phase == RunPhase.COMPENSATED else ""
            return self.result(j, j.phase.value, f"already {j.phase.value} (nothing done){hint}")  # type: ignore[arg-type]
        j = self.reconcile(j)
        if abort:
            return self.compensate(j, "aborted by the operator")
        if j.phase == RunPhase.NEEDS_OPERATOR and j.reason.startswith("conflict"):
            return self.result(j, "needs_operator")
        if j.phase in (RunPhase.COMPENSATING, RunPhase.NEEDS_OPERATOR):
            return self.compensate(j, j.reason)
        return self.apply(j, units)

    def reconcile(self, j: RunJournal) -> RunJournal:
        """Settle an in-flight unit after a crash by looking at the flags file."""
        digest = self.store.read().digest()
        entries = list(j.entries)
        if entries and not entries[-1].done:
            last = entries[-1]
            if digest == last.after_sha256:
                self.record("step_applied", self._applied_payload(last), f"applied:{last.unit}")
                entries[-1] = last.model_copy(update={"done": True})
            elif digest == last.before_sha256:
                entries.pop()
            else:
                why = f"conflict: flags file changed outside this run (state {digest[:12]})"
                return self.enter(j, RunPhase.NEEDS_OPERATOR, why, "needs_operator")
            j = self.update(j, entries=entries)
        if j.phase in (RunPhase.APPLYING, RunPhase.PAUSED):
            done = [e for e in entries if e.done]
            expected = done[-1].after_sha256 if done else j.original_state_sha256
            if digest != expected:
                why = f"conflict: flags file changed outside this run (state {digest[:12]}, expected {expected[:12]})"
                return self.enter(j, RunPhase.NEEDS_OPERATOR, why, "needs_operator")
        return j

    def _applied_payload(self, e: JournalEntry) -> dict[str, Any]:
        step = self.plan.step(e.step_id)
        return {"unit": e.unit, "step_id": e.step_id, "action": step.action if step else None,
                "feature": e.feature, "version": step.version if step else None,
                "state_before_sha256": e.before_sha256, "state_after_sha256": e.after_sha256}

    def apply(self, j: RunJournal, units: list[Unit]) -> ExecutionResult:
        for u in units:
            entry = next((e for e in j.entries if e.unit == u.name), None)
            if entry is not None and entry.done and entry.gated:
                self.steps.append(StepOutcome(step_id=u.name, action=u.action, feature=u.step.feature, status="already_applied"))
                continue
            t0 = time.monotonic()
            with span("execute.step", node="execute", plan_id=self.plan.id, thread_id=self.thread_id,
                      step_id=u.name, action=u.action, feature=u.step.feature) as sp:
                if entry is None or not entry.done:
                    state = self.store.read()
                    try:
                        new = u.apply(state)
                    except StepError as exc:
                        self.steps.append(StepOutcome(step_id=u.name, action=u.action, feature=u.step.feature, status="failed", error=str(exc)))
                        return self.compensate(j, f"step {u.name} failed: {exc}")
                    f = u.step.feature
                    entry = JournalEntry(
                        unit=u.name, step_id=u.step.id, before_sha256=state.digest(), after_sha256=new.digest(),
                        feature=f, feature_before=state.features[f].model_dump(mode="json") if f and f in state.features else None,
                        applied_at=self.clock(),
                    )
                    j = self.update(j, entries=[*j.entries, entry])
                    _crash_point(f"before_write:{u.name}")
                    try:
                        self.store.write(new)
                    except Exception as exc:
                        j = self.update(j, entries=j.entries[:-1])
                        self.steps.append(StepOutcome(step_id=u.name, action=u.action, feature=f, status="failed", error=str(exc)))
                        return self.compensate(j, f"step {u.name} failed to write the flags: {exc}")
                    _crash_point(f"after_write:{u.name}")
                    self.record("step_applied", self._applied_payload(entry), f"applied:{u.name}")
                    entry = entry.model_copy(update={"done": True})
                    j = self.update(j, entries=[*j.entries[:-1], entry])
                    _crash_point(f"after_done:{u.name}")
                    if u.action == "escalate":
                        self.record("escalation", {"unit": u.name, "reason": u.step.rationale or "plan step escalates"}, f"escalate:{u.name}")
                if self.step_wait_s > 0:
                    self.sleep(self.step_wait_s)
                verdict, row = self.stages.judge(u, entry.applied_at)
                if row is not None:
                    self.evo.append(row)
                    self.record("refresh_prompt", dict(row))
                elapsed = time.monotonic() - t0 - verdict.waited_s
                if elapsed > u.step.timeout_s:
                    verdict = verdict.model_copy(update={"verdict": "fail", "reason": f"timeout: {elapsed:.1f}s > {u.step.timeout_s:g}s"})
                sp.set_attribute("jitplan.gate", verdict.verdict)
            self.record("gate", {"unit": u.name, **verdict.model_dump(mode="json")})
            outcome = StepOutcome(step_id=u.name, action=u.action, feature=u.step.feature, status="applied",
                                  state_before_sha256=entry.before_sha256, state_after_sha256=entry.after_sha256,
                                  gate=verdict, elapsed_s=round(elapsed, 6))
            self.steps.append(outcome)
            if verdict.verdict == "fail":
                return self.compensate(j, f"gate failed after {u.name}: {verdict.reason}")
            if verdict.verdict == "inconclusive":
                why = f"gate inconclusive after {u.name}: {verdict.reason}; paused for a human (re-run to re-judge, --abort to compensate)"
                return self.stop(j, RunPhase.PAUSED, why, "escalation", {"unit": u.name})
            entries = [e.model_copy(update={"gated": True}) if e.unit == u.name else e for e in j.entries]
            j = self.update(j, entries=entries, phase=RunPhase.APPLYING)
        return self.stop(j, RunPhase.APPLIED, "all steps applied and gated", "execution",
                         {"status": "applied", "state_sha256": self.store.read().digest(),
                          "expected_vs_observed": self.evo}, "outcome")

    def compensate(self, j: RunJournal, reason: str) -> ExecutionResult:
        j = self.enter(j, RunPhase.COMPENSATING, reason, "compensation_started", key="compensating")
        for e in reversed(j.entries):
            if not e.done or e.compensated:
                continue
            attempts, error = 0, ""
            while e.feature is not None:
                attempts += 1
                try:
                    target = restore_feature(self.store.read(), e.feature, e.feature_before)
                    _crash_point(f"comp_before_write:{e.unit}")
                    self.store.write(target)
                    break
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    if attempts >= self.max_attempts:
                        why = (f"compensation of {e.unit} failed {attempts} times ({error}); "
                               "an operator must restore the flags (re-run jitplan apply to retry)")
                        self.comps.append(StepOutcome(step_id=e.unit, action="compensate", feature=e.feature,
                                                      status="needs_operator", attempts=attempts, error=error))
                        return self.stop(j, RunPhase.NEEDS_OPERATOR, why, "needs_operator",
                                         {"unit": e.unit, "attempts": attempts, "error": error})
                    self.sleep(self.retry_delay_s * attempts)
            _crash_point(f"comp_after_write:{e.unit}")
            step = self.plan.step(e.step_id)
            declared = step.compensation.model_dump(mode="json") if step and step.compensation else None
            self.record("step_compensated", {"unit": e.unit, "feature": e.feature, "attempts": attempts,
                                             "restored_sha256": e.before_sha256, "declared_compensation": declared},
                        f"compensated:{e.unit}")
            self.comps.append(StepOutcome(step_id=e.unit, action="compensate", feature=e.feature, status="compensated",
                                          state_before_sha256=e.after_sha256, state_after_sha256=e.before_sha256,
                                          attempts=max(attempts, 1), error=error or None))
            entries = [x.model_copy(update={"compensated": True}) if x.unit == e.unit else x for x in j.entries]
            j = self.update(j, entries=entries)
        return self.finish_compensation(j, reason)

    def finish_compensation(self, j: RunJournal, reason: str) -> ExecutionResult:
        digest = self.store.read().digest()
        if digest != j.original_state_sha256:
            why = f"after compensation the state {digest[:12]} differs from the original {j.original_state_sha256[:12]}"
            return self.stop(j, RunPhase.NEEDS_OPERATOR, why, "needs_operator")
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.store.restore(j.original_sha256)  # byte-for-byte, not just the same state
                break
            except Exception as exc:
                if attempt == self.max_attempts:
                    why = f"restoring the original flags bytes failed: {exc}"
                    return self.stop(j, RunPhase.NEEDS_OPERATOR, why, "needs_operator")
                self.sleep(self.retry_delay_s * attempt)
        return self.stop(j, RunPhase.COMPENSATED, reason, "execution",
                         {"status": "compensated", "state_sha256": digest, "file_sha256": j.original_sha256,
                          "expected_vs_observed": self.evo}, "outcome")


def apply_plan(
    plan: Plan,
    store: FlagStore,
    *,
    signals: SignalSource | SignalSnapshot | None,
    audit: AuditLog | None,
    thread_id: str | None = None,
    dry_run: bool = False,
    step_wait_s: float = 0.0,
    gate: GateConfig | None = None,
    runs_dir: Path | None = None,
    abort: bool = False,
    max_attempts: int = MAX_COMPENSATION_ATTEMPTS,
    retry_delay_s: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = _utcnow,
    poll_s: float = POLL_S,
    retry: bool = False,
) -> ExecutionResult:
    """Execute ``plan`` against the flag store as a saga (see the module docstring).

    ``signals`` is a ``SignalSource`` (re-read after each step), or a fixed ``SignalSnapshot``
    (or None: no signals, so every gate with tolerances is inconclusive). Approval is checked by
    the caller (``jitplan apply`` uses ``latest_approval`` and ``approval_problem``); the agent's
    execute node calls this after its decide node approved. ``clock`` (aware UTC) stamps when each
    stage began; ``sleep`` and ``poll_s`` pace the wait for fresh samples; ``retry`` starts a new
    attempt after a compensated run.
    """
    if signals is None or isinstance(signals, SignalSnapshot):
        signals = StaticSource(signals)
    if runs_dir is None:
        runs_dir = jitplan_home() / "runs"
    saga = _Saga(plan, store, signals, audit, thread_id, step_wait_s, gate or GateConfig(), runs_dir,
                 max(1, max_attempts), retry_delay_s, sleep, clock, poll_s)
    units = plan_units(plan)
    with span("execute", node="execute", plan_id=plan.id, thread_id=thread_id, plan_sha256=saga.sha,
              dry_run=dry_run) as sp:
        if dry_run:
            result = saga.dry_run(units)
        else:
            with _exclusive(store):
                result = saga.run(units, abort, retry)
        sp.set_attribute("jitplan.status", result.status)
    return result


@contextmanager
def _exclusive(store: FlagStore) -> Iterator[None]:
    """One apply at a time per flags file (an advisory lock the kernel drops if we are killed)."""
    import fcntl

    lock_path = store.path.with_name(f".{store.path.name}.jitplan.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"another jitplan apply is changing {store.path} right now; try again when it is done") from None
        yield
    finally:
        os.close(fd)
