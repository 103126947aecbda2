"""``jitplan apply`` asks the policy too: the plan is checked against the bundle (and the
catalog's roles and regions) before anything runs, dry run included, so ``apply`` agrees with
``plan`` and ``validate``.

The bundle is ``--policy``/``JITPLAN_POLICY``, else the one the approval recorded, else the
default shipped with jitplan; ``--no-policy`` is audited and needs a human approval on record.
"""

from __future__ import annotations

__all__ = ["PlanPolicy", "plan_policy"]

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jitplan.contracts.audit import AuditRecord
    from jitplan.contracts.plan import Plan
    from jitplan.contracts.policy import PolicyDecision, PolicyRequest
    from jitplan.contracts.signals import ContractSet
    from jitplan.contracts.state import DeploymentState
    from jitplan.tools.policy import PolicyBundle
    from jitplan.tools.signal_source import SignalSource


@dataclass(frozen=True)
class PlanPolicy:
    """The policy's verdict on a plan about to be applied."""

    bundle: PolicyBundle
    request: PolicyRequest
    decision: PolicyDecision
    catalog_sha256: str

    @property
    def denial(self) -> str | None:
        """Why the policy refuses the plan (None when allowed)."""
        if self.decision.allowed:
            return None
        return "the policy denies this plan: " + "; ".join(self.decision.deny)

    def needs_human(self, approval: AuditRecord | None) -> str | None:
        """Why the approval on record is not enough (the policy escalates, it was automatic)."""
        if not self.decision.escalate or approval is None or not approval.payload.get("auto"):
            return None
        return ("the policy asks for a human approval (" + "; ".join(self.decision.escalate)
                + ") but the approval on record is automatic: run jitplan approve")


def _catalog_path(args: argparse.Namespace, inputs: dict[str, Any]) -> str:
    from jitplan.contracts.errors import UserError

    path = args.catalog or inputs.get("catalog_path")
    if not path:
        raise UserError("apply checks the plan against the policy and the catalog's roles and "
                        "regions, so it needs the catalog: pass --catalog CATALOG.yaml",
                        source="--catalog")
    return str(path)


def plan_policy(args: argparse.Namespace, plan: Plan, state: DeploymentState,
                signals: SignalSource, contracts: ContractSet | None,
                inputs: dict[str, Any]) -> PlanPolicy:
    """Evaluate the policy on ``plan`` as ``apply`` will run it (``inputs``: the approval's)."""
    from jitplan.agent.commands._policy_args import (
        PolicyChoice,
        load_bundle,
        policy_choice,
        requester,
    )
    from jitplan.contracts.catalog import Catalog
    from jitplan.tools.policy import evaluate_policy, policy_input
    from jitplan.tools.signal_check import check_signals

    request = requester(args)
    choice = policy_choice(args)
    recorded = inputs.get("policy_dir")
    if choice.source == "default" and isinstance(recorded, str) and Path(recorded).is_dir():
        choice = PolicyChoice(recorded, False, "approval")
    bundle = load_bundle(choice)
    catalog = Catalog.from_file(_catalog_path(args, inputs))
    reading = signals.latest()
    statuses = []
    if reading.snapshot is not None and contracts is not None:
        statuses = check_signals(reading.snapshot, contracts, catalog)
    doc = policy_input(request, catalog, [], statuses, plan, state)
    return PlanPolicy(bundle, request, evaluate_policy(bundle, doc), catalog.digest())
