"""``jitplan plan``: run one planning cycle (perceive .. record) and print the plan and verdicts."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "plan",
        help="run a planning cycle: signals -> plan -> validate -> simulate -> decide",
        description="Exit 0 when the plan is approved, noop or escalated (waiting for "
        "`jitplan approve`), 1 when rejected, 2 on bad input. Checkpoints go to "
        "$JITPLAN_HOME/checkpoints.db (or JITPLAN_CHECKPOINT_URL), so a killed or escalated "
        "cycle resumes.",
    )
    p.add_argument("--catalog", metavar="CATALOG.yaml")
    p.add_argument("--signals", metavar="SIGNALS.yaml")
    p.add_argument("--contracts", metavar="CONTRACTS.yaml", help="data contracts for the signals")
    p.add_argument("--state", metavar="FLAGS.json", help="current deployment (flagd JSON)")
    from jitplan.agent.commands._evidence_args import add_evidence_argument
    add_evidence_argument(p)
    from jitplan.agent.commands._policy_args import add_policy_args, add_requester_args

    add_policy_args(p)
    p.add_argument("--request", default="", metavar="TEXT",
                   help="what to do, e.g. 'enable answer-synthesizer', 'roll out reply-drafter to 25%%'; "
                   "plans only that feature and its dependencies (other triggered features get their "
                   "own cycles, listed under scope.deferred)")
    add_requester_args(p)
    p.add_argument("--model", default=None, metavar="M",
                   help="LLM planner through litellm (e.g. openai/gpt-4o-mini, ollama/llama3.1) or "
                   "scripted:FILE; default: the offline planner")
    p.add_argument("--now", default=None, metavar="TS", help="reference time for signal freshness "
                   "(default: the snapshot's observed_at)")
    p.add_argument("--replications", type=int, default=10, metavar="N",
                   help="seeded replications per simulated scenario (default 10)")
    p.add_argument("--max-revisions", type=int, default=3, metavar="N")
    p.add_argument("--max-llm-calls", type=int, default=12, metavar="N")
    p.add_argument("--max-tool-calls", type=int, default=24, metavar="N")
    p.add_argument("--no-cache", action="store_true", help="do not reuse a cached plan")
    p.add_argument("--apply", action="store_true",
                   help="execute an approved plan on --state through the orchestrator")
    p.add_argument("--thread-id", default=None, metavar="ID",
                   help="name the cycle; an unfinished cycle with this id resumes")
    p.add_argument("--resume", default=None, metavar="THREAD_ID",
                   help="resume an unfinished (e.g. killed) cycle from its last checkpoint")
    p.add_argument("--out", default=None, metavar="PLAN.json",
                   help="also write the plan document (input of `jitplan apply`)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)


def write_plan(result: Any, path: str | None) -> None:
    """Write the cycle's plan to ``path`` (atomically) when asked."""
    if not path or result.plan is None:
        return
    import json
    import os
    import tempfile
    from pathlib import Path

    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=".plan-")
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(result.plan, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, target)


def build_request(args: argparse.Namespace) -> Any:
    """The ``PlanRequest`` of the parsed args, with every input loaded once to fail early."""
    from pydantic import ValidationError

    from jitplan.agent.nodes.common import load_inputs
    from jitplan.contracts.agent import PlanRequest
    from jitplan.contracts.errors import UserError
    from jitplan.contracts.loading import format_validation_error

    for flag in ("catalog", "signals"):
        if not getattr(args, flag):
            raise UserError(f"--{flag} is required (or use --resume THREAD_ID)", source=f"--{flag}")
    from jitplan.agent.commands._policy_args import policy_choice, requester

    who, choice = requester(args), policy_choice(args)
    from jitplan.agent.commands._evidence_args import evidence_paths

    try:
        req = PlanRequest(
            catalog=args.catalog, signals=args.signals, contracts=args.contracts, state=args.state,
            policy=choice.path, no_policy=choice.disabled, request=args.request,
            role=str(who.role), region=str(who.region),
            model=args.model, now=args.now, apply=args.apply, max_revisions=args.max_revisions,
            max_llm_calls=args.max_llm_calls, max_tool_calls=args.max_tool_calls,
            replications=args.replications, use_cache=not args.no_cache,
            evidence=evidence_paths(args),
        )
    except ValidationError as exc:
        raise format_validation_error(exc, "command line") from None
    check_request(req)
    check_names(req, load_inputs(req.model_dump(mode="json")).catalog)
    return req


def check_names(req: Any, catalog: Any) -> None:
    """A structured request must name a catalog feature (exit 2 with "did you mean" otherwise)."""
    from jitplan.agent.planners.requests import resolve_request

    if req.request.strip():
        resolve_request(req.request, catalog)


def check_request(req: Any) -> None:
    """Fail early on a request the chosen planner cannot work with, or a bad model spec."""
    from jitplan.contracts.errors import UserError

    model = req.model or ""
    if model.startswith("scripted:"):
        from jitplan.agent.planners.scripted import load_script

        load_script(model.removeprefix("scripted:"))
    elif not model and req.request.strip():
        from jitplan.agent.planners.requests import EXAMPLES, parse_request

        if parse_request(req.request) is None:
            raise UserError(
                "the offline planner understands structured requests only, e.g. "
                + "; ".join(repr(e) for e in EXAMPLES) + " (or use --model for free text)",
                source="--request",
            )


def exit_code(result: Any) -> int:
    """1 when rejected, or when an executed plan did not fully apply; else 0."""
    if result.decision == "rejected":
        return 1
    return int(bool(result.execution and result.execution.get("exit_code")))


def render(result: Any, *, out: Any = None) -> None:
    """Print a cycle result for people: plan steps, validation, simulation, decision."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from jitplan.agent.commands._output import clean
    from jitplan.agent.reasons import merge_reasons

    console = Console(file=out or sys.stdout, soft_wrap=False, width=140 if not sys.stdout.isatty() else None)
    plan = result.plan or {}
    colour = {"approved": "green", "noop": "cyan", "escalated": "yellow", "rejected": "red"}.get(
        str(result.decision), "white")
    console.print(f"[bold]cycle[/] {result.thread_id}  planner [bold]{escape(clean(result.planner))}[/]"
                  f"  decision [bold {colour}]{result.decision}[/]"
                  + ("  (fast path)" if result.fast_path else "") + ("  (cached plan)" if result.cache_hit else ""))
    if plan:
        console.print(f"[bold]plan[/] {escape(clean(str(plan.get('id'))))}: {escape(clean(str(plan.get('goal', '')), 300))}")
        table = Table(show_lines=False)
        for col in ("step", "action", "feature", "version", "params", "after", "tolerances", "undo"):
            table.add_column(col)
        for s in plan.get("steps", []) if isinstance(plan.get("steps"), list) else []:
            if not isinstance(s, dict):
                continue
            tols = ", ".join(f"{t.get('metric')}{t.get('comparator')}{t.get('threshold')}"
                             for t in s.get("tolerances", []) if isinstance(t, dict))
            comp = s.get("compensation") or {}
            params = ", ".join(f"{k}={v}" for k, v in (s.get("params") or {}).items() if v is not None)
            table.add_row(*(escape(clean(str(x), 120)) for x in (
                s.get("id"), s.get("action"), s.get("feature") or "", s.get("version") or "", params,
                ",".join(s.get("depends_on") or []), tols, comp.get("action", "") if isinstance(comp, dict) else "")))
        console.print(table)
        for note in plan.get("notes", []) or []:
            console.print(f"  note: {escape(clean(str(note), 300))}")
    _render_scope(console, result)
    v = result.validation
    noop = result.decision == "noop"
    if result.fast_path:
        console.print("[bold]validation[/] not run (nothing to change)")
    else:
        console.print(f"[bold]validation[/] {'[green]ok[/]' if v.get('ok') else '[red]failed[/]'}")
    for viol in v.get("violations", [])[:20]:
        console.print(f"  [red]{escape(str(viol.get('code')))}[/] "
                      + (f"step {escape(str(viol.get('step')))}: " if viol.get("step") else "")
                      + escape(clean(str(viol.get("message")), 300)))
    _render_simulation(console, result.simulation or {}, noop)
    if result.quarantined:
        console.print(f"[bold]quarantined signals[/] ({len(result.quarantined)})")
        for q in result.quarantined:
            console.print(f"  {escape(clean(str(q.get('name'))))}: {escape(clean('; '.join(q.get('reasons', [])), 300))}")
    console.print("[bold]reasons[/]")
    for r in result.reasons:
        console.print(f"  - {escape(clean(r, 400))}")
    if result.decision == "escalated":
        for why in merge_reasons(str(x) for x in (result.escalation or {}).get("reasons") or []):
            console.print(f"  [yellow]needs a human:[/] {escape(clean(str(why), 300))}", soft_wrap=True)
        roles = (result.escalation or {}).get("approver_roles") or []
        console.print(f"[yellow]waiting for a human:[/] jitplan approve {result.thread_id} "
                      + (f"--as {roles[0]} " if roles else "") + "[--reject] [--comment TEXT]")


def _render_simulation(console: Any, sim: dict[str, Any], noop: bool) -> None:
    """The simulation verdict: one row per scenario, ``contained`` as its own column, and why
    the plan failed. A noop is never reported as a passed simulation."""
    from rich.markup import escape
    from rich.table import Table

    from jitplan.agent.commands._output import clean, provenance_text

    if noop or not sim.get("scenarios"):
        why = ("not run: the plan changes nothing (noop)" if noop
               else str(sim.get("note") or ("passed" if sim.get("passed") else "not run")))
        console.print(f"[bold]simulation[/] {escape(clean(why, 300))}")
        return
    overall = str(sim.get("verdict") or ("passed" if sim.get("passed") else "failed"))
    console.print(f"[bold]simulation[/] [{'green' if overall == 'passed' else 'red'}]{escape(overall)}[/]"
                  f" ({sim.get('replications')} replications per scenario)")
    table = Table()
    for col in ("scenario", "verdict", "gates held", "contained", "p95 s", "error rate", "quality", "cost USD",
                "rolled back"):
        table.add_column(col)
    for name, m in sim["scenarios"].items():
        verdict = str(m.get("verdict") or ("passed" if m.get("ok") else "failed"))
        contained = ("yes" if m.get("contained") else "[red]NO[/]") if "contained" in m else "n/a"
        table.add_row(escape(clean(name, 120)), verdict if verdict == "passed" else f"[red]{escape(verdict)}[/]",
                      f"{m.get('pass_rate', 0):.0%}", contained, f"{m.get('latency_p95_s', 0):.3f}",
                      f"{m.get('error_rate', 0):.4f}", f"{m.get('quality_mean', 0):.3f}",
                      f"{m.get('cost_usd', 0):.2f}", "yes" if m.get("rolled_back") else "")
    console.print(table)
    for key, prov in sorted((sim.get("provenance") or {}).items()):
        what = (provenance_text(prov) if isinstance(prov, dict)
                else "no evidence: nominal catalog profile, unproven")
        console.print(f"  evidence {escape(clean(key, 120))}: {escape(clean(what, 200))}", soft_wrap=True)
    for why in sim.get("failures") or []:
        console.print(f"  [red]failed:[/] {escape(clean(str(why), 500))}", soft_wrap=True)


def _render_scope(console: Any, result: Any) -> None:
    """What the cycle planned, and where the other triggered features went (their own cycles)."""
    from rich.markup import escape

    from jitplan.agent.commands._output import clean

    scope = result.scope or {}
    if not scope:
        return
    deps = scope.get("dependencies") or []
    named = ", ".join(scope.get("features") or [])
    what = "request" if scope.get("kind") == "request" else "separate cycle"
    console.print(f"[bold]scope[/] ({what}): {escape(clean(named, 300))}"
                  + (f" and its dependencies {escape(clean(', '.join(deps), 300))}" if deps else "")
                  + " only")
    deferred = scope.get("deferred") or []
    if deferred:
        console.print("[bold]not in this plan[/]: other triggered features, each in its own cycle "
                      "with its own decision")
    for d in deferred:
        why = "; ".join(str(f.get("detail")) for f in d.get("findings", []))
        tid = str(d.get("thread_id"))
        state = str(d.get("decision") or d.get("status"))
        line = (f"  {escape(clean(str(d.get('feature'))))} ({escape(clean(why, 200))}): {escape(clean(tid))} "
                f"[bold]{escape(state)}[/]")
        if d.get("goal"):
            line += f": {escape(clean(str(d['goal']), 200))}"
        if d.get("decision") == "escalated":
            line += f" — waiting for its own approval: jitplan approve {escape(clean(tid))}"
        console.print(line)


def emit(result: Any, as_json: bool) -> int:
    if as_json:
        from jitplan.agent.commands._output import dump_json

        dump_json(result.model_dump(mode="json"))
    else:
        render(result)
    return exit_code(result)


def run(args: argparse.Namespace) -> int:
    from jitplan.agent.runtime import resume_cycle, run_cycle

    if args.resume:
        result = resume_cycle(args.resume)
    else:
        result = run_cycle(build_request(args), thread_id=args.thread_id)
    write_plan(result, args.out)
    return emit(result, args.json)
