"""jitplan: just-in-time planning for GenAI features.

One import package. Its subpackages mirror the repository's top-level folders:

- ``jitplan.contracts``: the shared vocabulary (pydantic models at every I/O boundary);
- ``jitplan.simulator``: the SimPy engines (exact and fast) over one scenario model;
- ``jitplan.tools``: catalog, signals, policy, validator, flags, audit, telemetry;
- ``jitplan.agent``: the LangGraph cycle, planners, orchestrator, chat and the ``jitplan`` CLI.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
