"""The policy and requester options every governed command shares (``plan``, ``chat``,
``validate``, ``apply``, ``policy eval``).

Policy is on by default: the bundle shipped in the package. ``--policy DIR`` or the environment
variable ``JITPLAN_POLICY`` replace it; ``--no-policy`` is the only way to turn it off, and it
is audited by the caller. The requester's role and region have no default: ``--as`` and
``--region``, or ``JITPLAN_ROLE`` and ``JITPLAN_REGION`` configured once; neither is bad input.
"""

from __future__ import annotations

__all__ = [
    "POLICY_ENV",
    "REGION_ENV",
    "ROLE_ENV",
    "PolicyChoice",
    "add_policy_args",
    "add_requester_args",
    "audit_no_policy",
    "load_bundle",
    "policy_choice",
    "requester",
]

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jitplan.contracts.policy import PolicyRequest
    from jitplan.tools.policy import PolicyBundle

POLICY_ENV = "JITPLAN_POLICY"
ROLE_ENV = "JITPLAN_ROLE"
REGION_ENV = "JITPLAN_REGION"


@dataclass(frozen=True)
class PolicyChoice:
    """Which bundle a command applies: ``path`` None and not ``disabled`` is the shipped one."""

    path: str | None
    disabled: bool
    source: str
    """Where the choice came from: ``--policy``, ``JITPLAN_POLICY``, ``--no-policy`` or ``default``."""


def add_policy_args(p: argparse.ArgumentParser, *, allow_disable: bool = True) -> None:
    """``--policy DIR`` and (unless ``allow_disable`` is False) ``--no-policy``."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--policy", metavar="DIR",
                   help=f"policy bundle directory (.rego) replacing the default one shipped with "
                   f"jitplan (or set {POLICY_ENV}); policy is always on unless --no-policy")
    if allow_disable:
        g.add_argument("--no-policy", action="store_true",
                       help="evaluate no policy bundle: recorded in the audit log, the catalog's "
                       "roles and regions are still enforced, and nothing is auto-approved")


def add_requester_args(p: argparse.ArgumentParser) -> None:
    """``--as ROLE`` and ``--region R`` (required unless configured in the environment)."""
    p.add_argument("--as", dest="role", default=None, metavar="ROLE",
                   help=f"requester role, checked against the catalog's governance.roles "
                   f"(required, or set {ROLE_ENV})")
    p.add_argument("--region", default=None, metavar="R",
                   help=f"requester region, checked against the catalog's governance.regions "
                   f"(required, or set {REGION_ENV})")


def policy_choice(args: argparse.Namespace) -> PolicyChoice:
    """The bundle the options ask for: ``--no-policy``, ``--policy``, ``JITPLAN_POLICY``, default."""
    if getattr(args, "no_policy", False):
        return PolicyChoice(None, True, "--no-policy")
    if getattr(args, "policy", None):
        return PolicyChoice(str(args.policy), False, "--policy")
    from jitplan.contracts.settings import get_settings

    env = get_settings().policy
    if env is not None:
        return PolicyChoice(str(env), False, POLICY_ENV)
    return PolicyChoice(None, False, "default")


def load_bundle(choice: PolicyChoice) -> PolicyBundle:
    """Load the chosen bundle (problems are ``UserError``s naming the option)."""
    from jitplan.contracts.errors import UserError
    from jitplan.tools.policy import PolicyBundle

    if choice.disabled:
        return PolicyBundle.no_policy()
    if choice.path is None:
        return PolicyBundle.default()
    try:
        return PolicyBundle.load(choice.path)
    except UserError as exc:
        if choice.source == POLICY_ENV:
            raise UserError(f"{exc.detail} (from {POLICY_ENV})", source=exc.source,
                            field=exc.field) from None
        raise


def requester(args: argparse.Namespace, purpose: str = "") -> PolicyRequest:
    """The requester's role and region from ``--as``/``--region`` or the environment.

    Missing either is a ``UserError`` (exit 2): the catalog's governance is checked against
    them, so they are never silently defaulted.
    """
    from pydantic import ValidationError

    from jitplan.contracts.errors import UserError
    from jitplan.contracts.loading import format_validation_error
    from jitplan.contracts.policy import PolicyRequest
    from jitplan.contracts.settings import get_settings

    settings = get_settings()
    role = getattr(args, "role", None) or settings.role
    region = getattr(args, "region", None) or settings.region
    if role is None:
        raise UserError(f"the requester role is required: pass --as ROLE or set {ROLE_ENV} "
                        "(it is checked against the catalog's governance.roles)", source="--as")
    if region is None:
        raise UserError(f"the requester region is required: pass --region R or set {REGION_ENV} "
                        "(it is checked against the catalog's governance.regions)",
                        source="--region")
    try:
        return PolicyRequest(role=role, region=region, purpose=purpose[:500])
    except ValidationError as exc:
        raise format_validation_error(exc, "--as/--region") from None


def audit_no_policy(command: str, request: PolicyRequest, *, audit: object | None = None,
                    thread_id: str | None = None) -> None:
    """Record an explicit ``--no-policy`` in the audit log: which command, and by whom."""
    from jitplan.agent.nodes.govern import disabled_by
    from jitplan.tools.audit import AuditLog

    payload = {**disabled_by(request.role, request.region), "command": command}
    if isinstance(audit, AuditLog):
        audit.append("policy_disabled", payload, thread_id=thread_id)
        return
    with AuditLog.open() as log:
        log.append("policy_disabled", payload, thread_id=thread_id)
