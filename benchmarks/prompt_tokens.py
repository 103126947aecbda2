"""Prompt tokens per LLM planning cycle, measured over real HTTP against the replay server.

One fixed conversation on the sample world's demand-rise signals: search_catalog + read_signals,
get_feature + dependency_graph, validate_plan(plan), simulate_plan(plan), the final answer (a
three-step canary plan). Every request body the server receives is counted with
litellm.token_counter (gpt-4o-mini's tokenizer, tool schemas included); their sum is the prompt
tokens of one cycle. Run: ``python benchmarks/prompt_tokens.py`` (README, LLM planner).
"""
# ruff: noqa: E402 (the environment and sys.path are set before jitplan and litellm import)
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "agent"))
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ.setdefault("JITPLAN_HOME", os.path.join(ROOT, ".jitplan", "bench-prompt-tokens"))
from pathlib import Path

import litellm
from replay_server import Exchange, ReplayServer

import jitplan.agent.planners.factory as factory
from jitplan.agent.planners.base import PlanningContext
from jitplan.agent.planners.findings import analyze
from jitplan.agent.planners.llm import LlmPlanner
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.loading import load_document
from jitplan.contracts.policy import PolicyRequest
from jitplan.contracts.signals import ContractSet, SignalSnapshot
from jitplan.contracts.state import DeploymentState
from jitplan.tools.lc_tools import ToolContext, make_tools
from jitplan.tools.signal_check import check_signals

W = Path(os.environ.get("WORLD", os.path.join(ROOT, "scenarios", "world")))
cat = Catalog.from_file(W / "catalog.yaml")
con = ContractSet.from_file(W / "contracts.yaml")
snap = SignalSnapshot.from_file(W / "signals" / "demand-rise.yaml")
st = DeploymentState.from_flagd(load_document(W / "flags.json"))
statuses = check_signals(snap, con, cat)
findings, notes = analyze(cat, statuses, st)
ctx = PlanningContext(cat, tuple(statuses), st, tuple(findings), notes=tuple(notes), seed_id="m")
TOL = [{"metric": "latency_p95_ms", "comparator": "<=", "threshold": 3000.0, "window_s": 300.0},
       {"metric": "error_rate", "comparator": "<=", "threshold": 0.01, "window_s": 300.0},
       {"metric": "quality", "comparator": ">=", "threshold": 0.8, "window_s": 300.0},
       {"metric": "cost_per_request_usd", "comparator": "<=", "threshold": 0.0009, "window_s": 300.0}]
plan = {"id": "plan-measure", "goal": "roll out answer-synthesizer@1.0.0 to 50% (demand 180 rpm)", "planner": "offline",
        "trigger": [{"signal": "answer-synthesizer.demand", "feature": "answer-synthesizer", "kind": "demand", "value": 180.0}],
        "steps": [{"id": f"s{i}", "action": "canary", "feature": "answer-synthesizer", "version": "1.0.0",
                   "params": {"weight": w}, "tolerances": TOL, "depends_on": [f"s{i - 1}"] if i > 1 else [],
                   "timeout_s": 600.0, "rationale": f"canary answer-synthesizer@1.0.0 at {w:g}%: demand 180 rpm >= trigger 40 rpm",
                   "compensation": {"id": f"s{i}-undo", "action": "rollback", "feature": "answer-synthesizer", "params": {}}}
                  for i, w in enumerate([5.0, 25.0, 50.0], 1)],
        "notes": []}
tools = make_tools(ToolContext(cat, tuple(statuses), st, None, PolicyRequest(), replications=1))
vschema = next(t for t in tools if t.name == "validate_plan").args["plan"]
as_string = vschema.get("type") == "string"
parg = json.dumps(plan, indent=1, sort_keys=True) if as_string else plan

def tc(i, name, args):
    return {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}

def completion(msg, finish):
    return Exchange(200, body={"id": "chatcmpl-m", "choices": [{"index": 0, "message": {"role": "assistant", **msg},
                    "finish_reason": finish, "logprobs": None}], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

ex = [completion({"content": None, "tool_calls": [tc(1, "search_catalog", {"query": "answer"}), tc(2, "read_signals", {"feature_id": "answer-synthesizer"})]}, "tool_calls"),
      completion({"content": None, "tool_calls": [tc(3, "get_feature", {"feature_id": "answer-synthesizer"}), tc(4, "dependency_graph", {"feature_id": "answer-synthesizer"})]}, "tool_calls"),
      completion({"content": None, "tool_calls": [tc(5, "validate_plan", {"plan": parg})]}, "tool_calls"),
      completion({"content": None, "tool_calls": [tc(6, "simulate_plan", {"plan": parg})]}, "tool_calls"),
      completion({"content": "```json\n" + json.dumps(plan, sort_keys=True) + "\n```"}, "stop")]
with ReplayServer(ex, model="gpt-4o-mini") as srv:
    os.environ["JITPLAN_LLM_API_BASE"] = srv.base_url
    os.environ["JITPLAN_LLM_API_KEY"] = "sk-test"
    make = getattr(factory, "chat_model", None) or factory._chat_model
    planner = LlmPlanner(make("openai/gpt-4o-mini"), name="llm:openai/gpt-4o-mini",
                         tools=ToolContext(cat, tuple(statuses), st, None, PolicyRequest(), replications=1))
    draft = planner.draft(ctx)
    assert draft.plan is not None, draft.errors
    per = []
    for r in srv.completions:
        per.append(litellm.token_counter(model="gpt-4o-mini", messages=r.body["messages"], tools=r.body.get("tools")))
    first = srv.completions[0].body
    sys_t = litellm.token_counter(model="gpt-4o-mini", messages=first["messages"][:1])
    usr_t = litellm.token_counter(model="gpt-4o-mini", messages=first["messages"][1:2])
    tools_t = per[0] - litellm.token_counter(model="gpt-4o-mini", messages=first["messages"])
    print(json.dumps({"plan_arg": "string" if as_string else "object", "requests": len(per), "per_request": per,
                      "cycle_total": sum(per), "system": sys_t, "user": usr_t, "tools": tools_t}))
