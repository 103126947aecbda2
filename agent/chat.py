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
"refresh ticket-summarizer prompt". Commands:
  /approve [comment]   approve the plan waiting for you
  /reject [comment]    reject it
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
        from jitplan.agent.commands.plan import check_request
        from jitplan.agent.nodes.common import load_inputs
        from jitplan.agent.runtime import run_cycle
        from jitplan.contracts.agent import PlanRequest

        req = PlanRequest(**{**self.base, "request": request})
        check_request(req)
        load_inputs(req.model_dump(mode="json"))
        self.last_request = request
        self.last = run_cycle(req)
        self.show(self.last)
        if self.last.decision == "escalated":
            self.say("this plan needs a human: /approve or /reject (or /refine it)")
        elif self.last.decision == "rejected":
            self.say("rejected; /refine the request to try again")

    def _decide(self, text: str) -> None:
        from jitplan.agent.runtime import approve_cycle

        approve = text.startswith("/approve")
        comment = text.split(maxsplit=1)[1] if " " in text else ""
        if self.last is None:
            self.say("nothing proposed yet")
            return
        if self.last.decision != "escalated":
            self.say(f"the last plan is not waiting for approval (decision: {self.last.decision})")
            return
        self.last = approve_cycle(self.last.thread_id, approve=approve,
                                  role=str(self.base.get("role", "operator")), comment=comment)
        self.show(self.last)
