"""``jitplan serve``: the web console (FastAPI + Jinja2 pages, a typed JSON API).

Imported only by ``jitplan serve`` and the tests: FastAPI, uvicorn and Jinja2 never load at CLI
start-up.
"""

from __future__ import annotations

__all__ = ["ConsoleConfig", "create_app"]

from jitplan.agent.console.app import ConsoleConfig, create_app
