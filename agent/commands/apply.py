"""``jitplan apply PLAN.json --state FLAGS [--signals S | --signals-dir DIR | --sources Y] [--dry-run]``.

Exit 0 applied (or dry run), 1 refused (not approved / stale / denied by the policy),
compensated, paused or needs an operator, 2 bad input. The plan is checked against the policy
(default bundle, ``--policy``/``JITPLAN_POLICY``, or the approval's) and the catalog's roles and
regions first, dry run included; ``--as``/``--region`` (or ``JITPLAN_ROLE``/``JITPLAN_REGION``)
name the requester.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "apply",
        help="execute an approved plan on a flagd flags file (saga with compensations)",
        description="Apply an approved plan step by step in dependency order; after each step "
        "judge its tolerances and canary vs baseline against the latest signals; on a breach, "
        "timeout or error compensate every completed step in reverse order (the flags file is "
        "restored byte for byte). Re-running resumes an interrupted, paused or failed run. Each "
        "stage is judged only on samples observed after it began, waiting for them up to the "
        "step's timeout_s (then it pauses). A compensated run is final; --retry starts a new, "
        "audited attempt of the same approved plan.",
    )
    p.add_argument("plan", metavar="PLAN.json")
    p.add_argument("--state", required=True, metavar="FLAGS.json", help="flagd flag-definitions file")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--signals", metavar="SNAPSHOT", help="signal snapshot file (re-read after each step)")
    src.add_argument("--signals-dir", metavar="DIR", help="watched folder; the newest snapshot is used")
    src.add_argument("--sources", metavar="SOURCES.yaml",
                     help="live signals: PromQL range queries over the window give each gate its samples")
    p.add_argument("--contracts", metavar="CONTRACTS.yaml", help="quarantine signals breaking their data contract")
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    from jitplan.agent.commands._evidence_args import APPLY_HELP, add_evidence_argument
    add_evidence_argument(p, help=APPLY_HELP)
    p.add_argument("--step-wait", type=float, default=0.0, metavar="SECONDS", help="wait between a step and its gate")
    p.add_argument("--abort", action="store_true", help="compensate a paused or interrupted run")
    p.add_argument("--retry", action="store_true",
                   help="after a compensated run: start a new attempt of the same approved plan (audited)")
    p.add_argument("--poll", type=float, default=1.0, metavar="SECONDS",
                   help="how often to re-read the signals while a stage waits for fresh samples (default 1)")
    p.add_argument("--thread", metavar="ID", help="thread id for audit records (default: the approval's)")
    p.add_argument("--audit", metavar="URL", help="audit log (default <home>/audit.db; postgresql://... ok)")
    p.add_argument("--catalog", metavar="CATALOG.yaml", help="catalog to re-hash (default: the approval's)")
    from jitplan.agent.commands._policy_args import add_policy_args, add_requester_args

    add_policy_args(p)  # the plan is checked against it (default: the approval's, else shipped)
    add_requester_args(p)
    p.add_argument("--confidence", type=float, default=0.95, help="canary test confidence (default 0.95)")
    p.add_argument("--tolerance", type=float, default=0.10, help="allowed relative canary degradation (default 0.10)")
    p.add_argument("--min-samples", type=int, default=4,
                   help="fresh samples per cohort below which a gate is inconclusive (default 4)")
    p.add_argument("--json", action="store_true", help="print the execution result as JSON")
    p.set_defaults(func=run)


class _Printable:
    """Writes text with non-printable characters replaced (reasons quote signal and file text)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        self.stream.write("".join(c if c.isprintable() or c == "\n" else "?" for c in text))


def run(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._apply_policy import plan_policy
    from jitplan.agent.commands._output import dump_json
    from jitplan.agent.commands._policy_args import audit_no_policy
    from jitplan.agent.orchestrator import (
        apply_plan,
        approval_problem,
        journal_path,
        latest_approval,
    )
    from jitplan.contracts.errors import UserError
    from jitplan.contracts.execution import RunJournal
    from jitplan.contracts.plan import Plan
    from jitplan.contracts.signals import ContractSet
    from jitplan.tools.audit import AuditLog
    from jitplan.tools.flags import FlagStore
    from jitplan.tools.gate import GateConfig
    from jitplan.tools.signal_source import (
        FolderSource,
        SignalSource,
        SnapshotFileSource,
        StaticSource,
    )

    plan = Plan.from_file(args.plan)
    store = FlagStore(args.state)
    state = store.read()
    if args.step_wait < 0:
        raise UserError("expected seconds >= 0", source="--step-wait")
    if not args.poll > 0:
        raise UserError("expected seconds > 0", source="--poll")
    if args.retry and (args.abort or args.dry_run):
        raise UserError("--retry starts a new attempt; it cannot be combined with --abort or --dry-run", source="--retry")
    try:
        gate = GateConfig(confidence=args.confidence, tolerance=args.tolerance, min_samples=args.min_samples)
    except ValueError as exc:
        raise UserError(str(exc), source="gate options") from None
    contracts = ContractSet.from_file(args.contracts) if args.contracts else None
    signals: SignalSource
    if args.signals:
        signals = SnapshotFileSource(args.signals, contracts=contracts, live=True)
        signals.latest()  # a bad snapshot is bad input now, not a failed gate later
    elif args.signals_dir:
        signals = FolderSource(args.signals_dir, contracts=contracts)
    elif args.sources:
        from jitplan.tools.signal_sources.prometheus import PrometheusSource

        signals = PrometheusSource.from_file(args.sources, contracts=contracts, state=args.state)
    elif args.dry_run:
        signals = StaticSource(None)
    else:
        raise UserError("give --signals SNAPSHOT, --signals-dir DIR or --sources SOURCES.yaml "
                        "(the gates need signals)", source="apply")

    with AuditLog.open(args.audit) as audit:
        approval = latest_approval(plan, audit)
        journal = journal_path(plan, store)
        state_sha = state.digest()
        if journal.exists():  # resuming: judge staleness against the state the run started from
            try:
                state_sha = RunJournal.model_validate_json(journal.read_bytes()).original_state_sha256
            except ValueError:
                raise UserError("corrupt run journal", source=str(journal)) from None
        inputs = dict((approval.payload.get("inputs") or {}) if approval else {})
        thread_id = args.thread or (approval.thread_id if approval else None)
        current: dict[str, str | None] = {"state_sha256": state_sha}
        unapproved = approval is None or approval.payload.get("decision") != "approved"
        problem = approval_problem(approval, current) if unapproved else None
        if problem is None or args.dry_run:  # the policy is asked unless nothing can run anyway
            pol = plan_policy(args, plan, state, signals, contracts, inputs)
            if pol.bundle.disabled:
                audit_no_policy("apply", pol.request, audit=audit, thread_id=thread_id)
            if pol.denial and not args.abort:  # dry run too: apply agrees with plan and validate
                if not args.dry_run:
                    audit.append("apply_refused", {"plan_id": plan.id, "plan_sha256": plan.digest(),
                                                   "reason": pol.denial}, thread_id=thread_id)
                return _refused(args, plan, pol.denial)
            current |= {"catalog_sha256": pol.catalog_sha256, "policy_sha256": pol.bundle.sha256}
            problem = approval_problem(approval, current) or pol.needs_human(approval)
        if problem and args.dry_run:
            _Printable(sys.stderr).write(f"jitplan: note: a real apply would be refused: {problem}\n")
        elif problem:
            audit.append("apply_refused", {"plan_id": plan.id, "plan_sha256": plan.digest(), "reason": problem},
                         thread_id=thread_id)
            return _refused(args, plan, problem)
        result = apply_plan(plan, store, signals=signals, audit=None if args.dry_run else audit,
                            thread_id=thread_id, dry_run=args.dry_run, step_wait_s=args.step_wait,
                            gate=gate, abort=args.abort, retry=args.retry, poll_s=args.poll)
    from jitplan.agent.commands._evidence_args import record_observations
    record_observations(args, result, plan)  # a shadow's observations: the next cycle's evidence
    if args.json:
        dump_json(result.model_dump(mode="json"))
    else:
        out = _Printable(sys.stdout)
        out.write(f"plan {plan.id} ({result.plan_sha256[:12]}): {result.status}"
                  f"{' (resumed)' if result.resumed else ''}"
                  f"{f' (attempt {result.attempt})' if result.attempt > 1 else ''}\n")
        if result.reason:
            out.write(f"  {result.reason}\n")
        for s in result.steps:
            g = f"  gate {s.gate.verdict}: {s.gate.reason}" if s.gate else ""
            err = f"  error: {s.error}" if s.error else ""
            out.write(f"  step {s.step_id:<24} {s.action:<10} {s.feature or '-':<22} {s.status}{g}{err}\n")
        for c in result.compensations:
            out.write(f"  undo {c.step_id:<24} {c.feature or '-':<22} {c.status} (attempts {c.attempts})"
                      f"{'  error: ' + c.error if c.error else ''}\n")
        for row in result.expected_vs_observed:
            out.write(f"  quality {row['unit']}: expected {row['expected_quality']}, observed {row['observed_quality']}\n")
        out.write(f"  flags state {result.state_before_sha256[:12]} -> {result.state_after_sha256[:12]}\n")
    if result.status == "needs_operator":
        _Printable(sys.stderr).write(f"jitplan: NEEDS OPERATOR: {result.reason}\n")
    elif result.status == "paused":
        _Printable(sys.stderr).write(f"jitplan: paused, escalated to a human: {result.reason}\n")
    return result.exit_code


def _refused(args: argparse.Namespace, plan: Any, reason: str) -> int:
    """Exit 1: nothing was applied. With ``--json`` the refusal is one object on stdout too."""
    from jitplan.agent.commands._output import dump_json

    if args.json:
        dump_json({"status": "refused", "plan_id": plan.id, "plan_sha256": plan.digest(),
                   "reason": reason, "exit_code": 1})
    _Printable(sys.stderr).write(f"jitplan: refused: {reason}\n")
    return 1
