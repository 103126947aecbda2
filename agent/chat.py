"""``jitplan chat``: a conversation with the planner (propose, inspect, approve or refine).

Each request runs one full planning cycle (checkpointed like ``jitplan plan``); the proposal is
shown with its validation and simulation verdict. Works with the offline planner through
structured requests ("enable answer-synthesizer", "roll out reply-drafter to 25%",
"refresh ticket-summarizer prompt") and with any ``--model`` for free text.
"""

from __future__ import annotations

__all__ = ["HELP", "ChatSession"]

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HELP = """Type a request, e.g. "enable answer-synthesizer", "roll out reply-drafter to 25%",
"refresh ticket-summarizer prompt". A request plans only the feature it names (and its
dependencies); other triggered features are planned as separate plans, each approved on its own.
Commands:
  /approve [comment]   approve the plan of your request (only that plan)
  /approve FEATURE [comment]
                       approve the separate plan of another triggered feature (or its THREAD_ID)
  /reject [FEATURE] [comment]
                       reject one of them
  /refine <text>       plan again with a changed request
  /show                show the last proposal again
  /json                print the last proposal as JSON
  /help                this text
  /quit                leave"""


@dataclass
class ChatSession:
    """State of one chat: the base inputs and the last cycle's result."""

    base: dict[str, Any]
    """``PlanRequest`` fields shared by every request (catalog, signals, policy, model, ...)."""
    show: Callable[[Any], None]
    say: Callable[[str], None]
    last: Any = None
    last_request: str = ""
    history: list[str] = field(default_factory=list)
    new_thread_id: Callable[[], str] | None = None
    """Names each request's cycle (e.g. so a web console can follow its progress); None: random."""

    def handle(self, line: str) -> bool:
        """Handle one input line; False means the session is over."""
        from jitplan.contracts.errors import UserError

        text = line.strip()
        if not text:
            return True
        self.history.append(text)
        try:
            return self._dispatch(text)
        except UserError as exc:
            self.say(f"error: {exc}")
            return True

    def _dispatch(self, text: str) -> bool:
        if text in ("/quit", "/exit", "/q"):
            self.say("bye")
            return False
        if text == "/help":
            self.say(HELP)
            return True
        if text == "/show":
            if self.last is None:
                self.say("nothing proposed yet")
            else:
                self.show(self.last)
            return True
        if text == "/json":
            if self.last is None:
                self.say("nothing proposed yet")
            else:
                self.say(json.dumps(self.last.model_dump(mode="json"), indent=2, sort_keys=True))
            return True
        if text.startswith(("/approve", "/reject")):
            self._decide(text)
            return True
        if text.startswith("/refine"):
            extra = text.removeprefix("/refine").strip()
            if not extra:
                self.say("usage: /refine <text>")
                return True
            if self.base.get("model"):
                request = f"{self.last_request}\nRefinement: {extra}" if self.last_request else extra
            else:
                request = extra
            self._plan(request)
            return True
        if text.startswith("/"):
            self.say(f"unknown command {text.split()[0]!r}; /help lists the commands")
            return True
        self._plan(text)
        return True

    def _plan(self, request: str) -> None:
        from jitplan.agent.commands.plan import check_names, check_request
        from jitplan.agent.nodes.common import load_inputs
        from jitplan.agent.runtime import run_cycle
        from jitplan.contracts.agent import PlanRequest

        req = PlanRequest(**{**self.base, "request": request})
        check_request(req)
        check_names(req, load_inputs(req.model_dump(mode="json")).catalog)
        self.last_request = request
        self.last = run_cycle(req, thread_id=self.new_thread_id() if self.new_thread_id else None)
        self.show(self.last)
        if self.last.decision == "escalated":
            self.say(f"this plan needs a human: /approve or /reject (or /refine it); "
                     f"this approves only {self._what(self.last)}")
        elif self.last.decision == "rejected":
            self.say("rejected; /refine the request to try again")
        for d in self._waiting_others():
            self.say(f"separate plan for {d['feature']} ({d['thread_id']}) is waiting for its own "
                     f"approval: /approve {d['feature']} [comment] or /reject {d['feature']}")

    @staticmethod
    def _what(result: Any) -> str:
        goal = (result.plan or {}).get("goal") or "this plan"
        return f"plan {(result.plan or {}).get('id')} ({goal})"

    def _others(self) -> list[dict[str, Any]]:
        """The separate cycles of the last request (other triggered features)."""
        return list(((self.last.scope or {}).get("deferred") or []) if self.last is not None else [])

    def _waiting_others(self) -> list[dict[str, Any]]:
        return [d for d in self._others() if d.get("decision") == "escalated"]

    def _decide(self, text: str) -> None:
        """Approve or reject exactly one plan: the request's, or a named separate one."""
        from jitplan.agent.runtime import approve_cycle, load_result

        approve = text.startswith("/approve")
        words = text.split(maxsplit=2)
        if self.last is None:
            self.say("nothing proposed yet")
            return
        other = next((d for d in self._others() if len(words) > 1
                      and words[1] in (d.get("feature"), d.get("thread_id"))), None)
        if other is not None:
            comment = words[2] if len(words) > 2 else ""
            tid, current = str(other["thread_id"]), other.get("decision")
        else:
            comment = text.split(maxsplit=1)[1] if len(words) > 1 else ""
            tid, current = self.last.thread_id, self.last.decision
        if current != "escalated":
            what = f"the separate plan for {other['feature']}" if other else f"the plan of your request, {self._what(self.last)},"
            self.say(f"{what} is not waiting for approval (decision: {current}); nothing "
                     + ("approved" if approve else "rejected"))
            for d in self._waiting_others():
                self.say(f"still waiting, each with its own approval: {d['feature']} ({d['thread_id']}): "
                         f"/approve {d['feature']} [comment]")
            return
        result = approve_cycle(tid, approve=approve, role=str(self.base.get("role", "operator")),
                               comment=comment)
        self.show(result)
        if other is not None:
            self.last = load_result(self.last.thread_id)  # refresh the separate cycles' outcomes
        else:
            self.last = result
