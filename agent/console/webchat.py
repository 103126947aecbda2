"""The chat of one console session: ``agent.chat.ChatSession`` run in a worker thread.

Each line goes to the same ``ChatSession.handle`` as ``jitplan chat``; what the session says or
shows becomes transcript entries. While a cycle runs, its finished node spans (appended to
``traces.jsonl`` as each node ends) are the progress the page polls.
"""

from __future__ import annotations

__all__ = ["WebChat"]

import io
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jitplan.contracts.errors import UserError


@dataclass
class WebChat:
    """One browser session's chat: transcript, the running line, node progress."""

    base: dict[str, Any]
    entries: list[dict[str, Any]] = field(default_factory=list)
    progress: list[dict[str, Any]] = field(default_factory=list)
    busy: bool = False
    thread_id: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _poll_lock: threading.Lock = field(default_factory=threading.Lock)
    _session: Any = None
    _traces_from: int = 0

    def __post_init__(self) -> None:
        from jitplan.agent.chat import ChatSession

        self._session = ChatSession(base=self.base, show=self._show, say=self._say,
                                    new_thread_id=self._new_thread_id)

    # -- what the ChatSession calls -------------------------------------------------------
    def _add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            entry["n"] = len(self.entries)
            self.entries.append(entry)

    def _say(self, text: str) -> None:
        self._add({"kind": "say", "text": text})

    def _show(self, result: Any) -> None:
        from jitplan.agent.commands.plan import render

        buf = io.StringIO()
        render(result, out=buf)
        self._add({"kind": "result", "thread_id": result.thread_id, "decision": result.decision,
                   "text": buf.getvalue()})

    def _new_thread_id(self) -> str:
        from jitplan.agent.runtime import new_thread_id

        tid = new_thread_id()
        with self._lock:
            self.thread_id = tid
            self.progress = []
            traces = _traces()
            self._traces_from = traces.stat().st_size if traces.exists() else 0
        return tid

    # -- what the console calls -------------------------------------------------------------
    def start(self, text: str) -> None:
        """Handle ``text`` in a worker thread; ``UserError`` when a line is still running."""
        line = text.strip()
        if not line:
            raise UserError("type a request or a command (/help)", source="text")
        with self._lock:
            if self.busy:
                raise UserError("the previous request is still running", source="text")
            self.busy = True
        self._add({"kind": "you", "text": line})
        threading.Thread(target=self._run, args=(line,), name="jitplan-chat", daemon=True).start()

    def _run(self, line: str) -> None:
        try:
            if not self._session.handle(line):
                self._say("(this console chat stays open; /help lists the commands)")
        except Exception as exc:  # a run failure: shown, the session stays usable
            self._say(f"run failed: {type(exc).__name__}: {exc}")
        finally:
            self._poll_progress()
            with self._lock:
                self.busy = False

    def _poll_progress(self) -> None:
        """Read the node spans of the running cycle (and its separate cycles) appended since."""
        with self._poll_lock:
            self._poll_locked()

    def _poll_locked(self) -> None:
        tid = self.thread_id
        traces = _traces()
        if tid is None or not traces.exists():
            return
        with traces.open("rb") as fh:
            fh.seek(self._traces_from)
            chunk = fh.read()
        end = chunk.rfind(b"\n") + 1
        new: list[dict[str, Any]] = []
        for raw in chunk[:end].splitlines():
            try:
                span = json.loads(raw)
            except ValueError:
                continue
            attrs = span.get("attributes") if isinstance(span, dict) else None
            if not isinstance(attrs, dict) or "jitplan.node" not in attrs:
                continue
            stid = str(attrs.get("jitplan.thread_id") or "")
            if stid == tid or stid.startswith(tid + "."):
                new.append({"thread_id": stid, "node": str(attrs["jitplan.node"]),
                            "status": span.get("status"),
                            "duration_ms": round(float(span.get("duration_ms") or 0.0), 1)})
        with self._lock:
            self._traces_from += end
            self.progress.extend(new)

    def state(self, after: int = 0) -> dict[str, Any]:
        """Transcript entries from ``after`` on, progress of the current cycle, busy or not."""
        if self.busy:
            self._poll_progress()
        with self._lock:
            return {"busy": self.busy, "thread_id": self.thread_id,
                    "entries": [dict(e) for e in self.entries[max(after, 0):]],
                    "progress": [dict(p) for p in self.progress]}


def _traces() -> Path:
    from jitplan.contracts.home import jitplan_home

    return jitplan_home() / "traces.jsonl"
