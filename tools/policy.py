"""Policy-as-code over Rego (``regopy``): load a bundle, build the input, evaluate, deny by default.

A bundle is a directory of ``.rego`` files (searched recursively, sorted by relative path).
Contract: ``package jitplan`` with rules ``deny`` and ``escalate``, each a set of reason strings.
A decision is allowed iff ``deny`` is empty; ``escalate`` means a human must approve.

Deny by default: a bundle that fails to compile, uses a non-deterministic built-in, errors at
run time (regopy's strict built-in errors are on), times out, or leaves ``deny``/``escalate``
undefined or of the wrong type yields ``allowed=False`` with the reason — never an allow.
Every decision records ``bundle_sha256`` (sha256 over the sorted file names and contents).

The default bundle ships as package data (``jitplan/tools/policy_bundle/*.rego``) and is read with
``importlib.resources`` (``PolicyBundle.default()``), so an installed wheel applies it anywhere.
``PolicyBundle.no_policy()`` stands for an explicit ``--no-policy``: no Rego is evaluated and the
decision always escalates (a human must approve what no policy checked).

Whatever the bundle, the catalog's own ``governance.roles`` and ``governance.regions`` are
checked in Python (``tools.catalog_governance``) and their deny reasons merged into the decision,
so a custom bundle that forgets them cannot allow what the catalog forbids.

The input document is built by ``tools.policy_document.policy_input``.

Evaluation runs the query on a worker thread and waits at most ``timeout_s`` (regopy's C calls
release the GIL); on timeout the worker and its interpreter are abandoned and the decision is a
deny. Loaded interpreters are pooled per bundle hash, so repeated evaluations skip compilation.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_BUNDLE",
    "FEATURE_FIELDS",
    "FORBIDDEN_BUILTINS",
    "NO_POLICY_ESCALATION",
    "SIGNAL_FIELDS",
    "STEP_FIELDS",
    "PendingDecision",
    "PolicyBundle",
    "evaluate_policy",
    "forbidden_builtins",
    "governance_refusals",
    "policy_input",
    "signal_docs",
    "start_policy_evaluation",
    "touched_features",
]

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jitplan.contracts.errors import UserError
from jitplan.contracts.loading import read_text
from jitplan.contracts.policy import PolicyDecision
from jitplan.tools.catalog_governance import governance_refusals
from jitplan.tools.policy_document import (
    FEATURE_FIELDS,
    SIGNAL_FIELDS,
    STEP_FIELDS,
    policy_input,
    signal_docs,
    touched_features,
)
from jitplan.tools.rego_input import set_input

FORBIDDEN_BUILTINS: tuple[str, ...] = (
    "time.*",
    "rand.*",
    "uuid.*",
    "net.*",
    "http.send",
    "opa.runtime",
    "crypto.x509.parse_and_verify_certificates_with_options",
)
"""Non-deterministic (clock, randomness, network, environment) built-ins a bundle may not use."""

_FORBIDDEN_RE = re.compile(
    r"(?<![\w.])(?:(?:time|rand|uuid|net)\.[A-Za-z_][\w.]*|http\.send|opa\.runtime"
    r"|crypto\.x509\.parse_and_verify_certificates_with_options)\b"
)
MAX_BUNDLE_FILES = 200
DEFAULT_BUNDLE = ("jitplan.tools", "policy_bundle")
"""Where the default bundle ships: (package, resource directory)."""
NO_POLICY_PATH = "(none: --no-policy)"
NO_POLICY_ESCALATION = ("policy disabled (--no-policy): no policy bundle was evaluated, "
                        "so a human must approve")
_QUERY = 'x := {"deny": data.jitplan.deny, "escalate": data.jitplan.escalate}'


def _strip_strings_and_comments(source: str) -> str:
    """Blank out string literals and comments (keeping newlines) so scans see only code."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c == "#":
            while i < n and source[i] != "\n":
                i += 1
            continue
        if c == '"':
            out.append(" ")
            i += 1
            while i < n and source[i] != '"' and source[i] != "\n":
                i += 2 if source[i] == "\\" else 1
            i += 1
            out.append(" ")
            continue
        if c == "`":
            i += 1
            while i < n and source[i] != "`":
                out.append("\n" if source[i] == "\n" else " ")
                i += 1
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def forbidden_builtins(source: str, name: str = "<module>") -> list[str]:
    """Every use of a non-deterministic built-in in one Rego source, as ``name:line: call``."""
    code = _strip_strings_and_comments(source)
    found: list[str] = []
    for lineno, line in enumerate(code.splitlines(), 1):
        for m in _FORBIDDEN_RE.finditer(line):
            found.append(f"{name}:{lineno}: {m.group(0)}")
    return found


@dataclass(frozen=True)
class PolicyBundle:
    """A loaded policy bundle: its ``.rego`` files, their hash and any forbidden built-ins."""

    path: str
    files: tuple[tuple[str, str], ...]
    """(relative path, source) pairs sorted by path."""
    sha256: str
    forbidden: tuple[str, ...] = ()
    disabled: bool = False
    """True for ``PolicyBundle.no_policy()`` (``--no-policy``): only catalog governance is checked."""

    @classmethod
    def default(cls) -> PolicyBundle:
        """The bundle shipped in the package (``jitplan/tools/policy_bundle``)."""
        from importlib.resources import files

        root = files(DEFAULT_BUNDLE[0]).joinpath(DEFAULT_BUNDLE[1])
        found: list[tuple[str, str]] = []

        def walk(node: Any, prefix: str) -> None:
            for child in sorted(node.iterdir(), key=lambda c: c.name):
                if child.is_dir():
                    walk(child, f"{prefix}{child.name}/")
                elif child.name.endswith(".rego"):
                    found.append((prefix + child.name, child.read_text(encoding="utf-8")))

        if not root.is_dir():
            raise UserError("the default policy bundle is not installed (package data "
                            "jitplan/tools/policy_bundle); reinstall jitplan or pass --policy DIR",
                            source="--policy")
        walk(root, "")
        if not found:
            raise UserError("no .rego files in the installed default policy bundle",
                            source=str(root))
        return cls.from_sources(found, path=str(root))

    @classmethod
    def no_policy(cls) -> PolicyBundle:
        """No bundle (``--no-policy``): decisions carry catalog governance and always escalate."""
        digest = hashlib.sha256(b"jitplan:no-policy").hexdigest()
        return cls(path=NO_POLICY_PATH, files=(), sha256=digest, disabled=True)

    @classmethod
    def load(cls, directory: str | Path) -> PolicyBundle:
        """Read every ``.rego`` file under ``directory``; problems are ``UserError``s."""
        root = Path(directory)
        src = str(directory)
        if not root.exists():
            raise UserError("policy bundle directory not found", source=src)
        if not root.is_dir():
            raise UserError("expected a directory of .rego files", source=src)
        paths = sorted(p for p in root.rglob("*.rego") if p.is_file())
        if not paths:
            raise UserError("no .rego files in the policy bundle directory", source=src)
        if len(paths) > MAX_BUNDLE_FILES:
            raise UserError(
                f"{len(paths)} .rego files, more than the {MAX_BUNDLE_FILES}-file limit", source=src
            )
        files = tuple((p.relative_to(root).as_posix(), read_text(p)) for p in paths)
        return cls.from_sources(files, path=src)

    @classmethod
    def from_sources(
        cls, files: Iterable[tuple[str, str]], *, path: str = "<memory>"
    ) -> PolicyBundle:
        """A bundle from in-memory (name, source) pairs (tests, generated policies)."""
        ordered = tuple(sorted(files))
        h = hashlib.sha256()
        forbidden: list[str] = []
        for name, text in ordered:
            h.update(name.encode() + b"\0" + text.encode() + b"\0")
            forbidden.extend(forbidden_builtins(text, name))
        return cls(path=path, files=ordered, sha256=h.hexdigest(), forbidden=tuple(forbidden))


# ---- interpreter pool --------------------------------------------------------------------


class _CompileError(Exception):
    pass


_pool_lock = threading.Lock()
_pool: dict[str, list[tuple[Any, Any]]] = {}
_POOL_MAX = 4


def _new_interpreter(bundle: PolicyBundle) -> tuple[Any, Any]:
    """A fresh interpreter with the bundle's modules and the query compiled once."""
    from regopy import Interpreter, LogLevel, RegoError

    rego = Interpreter()
    rego.log_level = LogLevel.NONE
    rego.strict_built_in_errors = True
    for name, text in bundle.files:
        try:
            rego.add_module(name, text)
        except RegoError as exc:
            raise _CompileError(f"{name}: {_first_error_line(str(exc))}") from None
    try:
        compiled = rego.build(_QUERY, [])
    except RegoError as exc:
        raise _CompileError(_first_error_line(str(exc))) from None
    if not compiled.ok():
        raise _CompileError("the bundle does not build")
    return rego, compiled


def _acquire(bundle: PolicyBundle) -> tuple[Any, Any]:
    with _pool_lock:
        idle = _pool.get(bundle.sha256)
        if idle:
            return idle.pop()
    return _new_interpreter(bundle)


def _release(bundle: PolicyBundle, rego: tuple[Any, Any]) -> None:
    with _pool_lock:
        idle = _pool.setdefault(bundle.sha256, [])
        if len(idle) < _POOL_MAX:
            idle.append(rego)


def _first_error_line(text: str) -> str:
    m = re.search(r"errormsg \d+:([^)\n]*)", text)
    return m.group(1).strip() if m else (text.strip().splitlines() or ["compile error"])[0]


def _error_messages(output: Any) -> str:
    """The error messages inside a failed regopy output (best effort)."""
    try:
        from regopy.rego_shared import (
            rego_node_get,
            rego_node_size,
            rego_node_type,
            rego_node_value,
        )

        msgs: list[str] = []

        def walk(node: Any) -> None:
            if int(rego_node_type(node)) == 1801:  # ErrorMessage
                msgs.append(str(rego_node_value(node)))
            elif int(rego_node_type(node)) == 1803:  # ErrorCode
                msgs.append(f"({rego_node_value(node)})")
            for i in range(rego_node_size(node)):
                walk(rego_node_get(node, i))

        walk(output.node()._impl)
        return " ".join(msgs) or "policy evaluation failed"
    except Exception:  # the regopy internals are best effort; never let them allow
        return "policy evaluation failed"


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return sorted(set(value))
    return None


def _run_query(engine: tuple[Any, Any]) -> tuple[list[str], list[str]]:
    """Run the compiled query on the input already set; raises ``_EvalError`` with the reason."""
    rego, compiled = engine
    out = rego.query_bundle(compiled)
    if not out.ok():
        raise _EvalError(f"policy evaluation error: {_error_messages(out)}")
    text = str(out)
    if text.strip() == "undefined":
        raise _EvalError(
            "policy result undefined: package jitplan must define rules deny and escalate"
        )
    try:
        doc = json.loads(text)
        result = (doc[0] if isinstance(doc, list) else doc)["bindings"]["x"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise _EvalError("policy result undefined or unreadable") from None
    deny, escalate = _strings(result.get("deny")), _strings(result.get("escalate"))
    if deny is None or escalate is None:
        raise _EvalError(
            "policy result malformed: deny and escalate must be sets of strings "
            f"(got {type(result.get('deny')).__name__} and {type(result.get('escalate')).__name__})"
        )
    return deny, escalate


class _EvalError(Exception):
    pass


class PendingDecision:
    """A policy evaluation running on its worker thread; ``result()`` waits for its decision.

    Lets a caller overlap the engine's work (C++, outside the GIL) with its own, as
    ``tools.validator.validate`` does with the plan checks. The time bound counts from the start.
    """

    def __init__(self, bundle: PolicyBundle, input_doc: dict[str, Any], timeout_s: float) -> None:
        self._bundle = bundle
        self._timeout_s = timeout_s
        self._box: dict[str, Any] = {}
        self._decision: PolicyDecision | None = None
        self._worker: threading.Thread | None = None
        self._deadline = time.monotonic() + timeout_s
        self._governance = governance_refusals(input_doc)
        if bundle.disabled:
            deny = sorted(set(self._governance))
            self._decision = PolicyDecision(allowed=not deny, deny=deny,
                                            escalate=[NO_POLICY_ESCALATION],
                                            bundle_sha256=bundle.sha256)
            return
        if bundle.forbidden:
            self._decision = self._denied(
                "policy bundle refused: non-deterministic built-ins are not allowed: "
                + ", ".join(bundle.forbidden)
            )
            return
        try:
            self._engine = _acquire(bundle)
        except _CompileError as exc:
            self._decision = self._denied(f"policy bundle does not compile: {exc}")
            return
        except Exception as exc:
            self._decision = self._denied(f"policy engine unavailable: {type(exc).__name__}: {exc}")
            return
        box, engine = self._box, self._engine
        input_set = threading.Event()

        def work() -> None:
            # The input is built on this thread too: rego-cpp's allocator misbehaves (a hang at
            # process exit) when an interpreter's input is allocated on another thread.
            try:
                set_input(engine[0], input_doc)
            except Exception as exc:
                box["error"] = (
                    f"policy evaluation error: the input document: {type(exc).__name__}: {exc}")
                return
            finally:
                input_set.set()
            try:
                box["result"] = _run_query(engine)
            except _EvalError as exc:
                box["error"] = str(exc)
            except Exception as exc:
                box["error"] = f"policy evaluation error: {type(exc).__name__}: {exc}"

        self._worker = threading.Thread(target=work, name="jitplan-policy", daemon=True)
        self._worker.start()
        # Building the input is Python work: wait for it here rather than compete for the GIL,
        # so that the caller's own work overlaps only the query (C++, outside the GIL).
        input_set.wait(timeout_s)

    def _denied(self, reason: str) -> PolicyDecision:
        deny = sorted({reason, *self._governance})
        return PolicyDecision(allowed=False, deny=deny, escalate=[],
                              bundle_sha256=self._bundle.sha256, error=reason)

    def result(self) -> PolicyDecision:
        """The decision: a deny with the reason unless the bundle answered cleanly in time."""
        if self._decision is not None:
            return self._decision
        assert self._worker is not None
        self._worker.join(max(0.0, self._deadline - time.monotonic()))
        if self._worker.is_alive():
            # The worker keeps its interpreter; it is never returned to the pool.
            self._decision = self._denied(f"policy evaluation timed out after {self._timeout_s:g} s")
        elif "error" in self._box:
            self._decision = self._denied(str(self._box["error"]))
        else:
            _release(self._bundle, self._engine)
            deny, escalate = self._box["result"]
            deny = sorted(set(deny) | set(self._governance))
            self._decision = PolicyDecision(allowed=not deny, deny=deny, escalate=escalate,
                                            bundle_sha256=self._bundle.sha256)
        return self._decision


def start_policy_evaluation(
    bundle: PolicyBundle, input_doc: dict[str, Any], timeout_s: float = 2.0
) -> PendingDecision:
    """Start evaluating ``bundle`` on ``input_doc``; ``.result()`` gives the decision."""
    return PendingDecision(bundle, input_doc, timeout_s)


def evaluate_policy(
    bundle: PolicyBundle, input_doc: dict[str, Any], timeout_s: float = 2.0
) -> PolicyDecision:
    """Evaluate ``bundle`` on ``input_doc`` within ``timeout_s``; anything but a clean answer denies."""
    return PendingDecision(bundle, input_doc, timeout_s).result()
