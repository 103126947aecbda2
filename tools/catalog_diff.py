"""``jitplan catalog diff``: compatibility of a new catalog (or data-contracts file) with the old.

Every finding is ``breaking``, ``needs-review`` or ``info`` and names its file and line. Features
are compared version by version: the same ``id@version`` in both files is an *in-place* change
(a published version should not change); a version only in the new file is compared with its
predecessor (the highest older version in the old file), and there a breaking change is
downgraded to ``needs-review`` when the major version was bumped (semver: ``0.x`` counts the minor).
Schemas are judged by ``tools.schema_compat``, prompts by ``tools.prompt_hygiene``; data-contract
files by ``tools.contract_diff``.
"""

from __future__ import annotations

__all__ = ["SEVERITIES", "DiffReport", "DiffSide", "Finding", "detect_kind", "diff_catalogs", "diff_files"]

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jitplan.contracts.errors import UserError
from jitplan.tools.diff_findings import DiffSide, Finding
from jitplan.tools.schema_compat import Severity, compare_schemas
from jitplan.tools.yaml_lines import line_index

if TYPE_CHECKING:
    from jitplan.contracts.catalog import Catalog, FeatureSpec
    from jitplan.contracts.state import DeploymentState

SEVERITIES: tuple[Severity, ...] = ("breaking", "needs-review", "info")
Kind = Literal["catalog", "contracts"]


@dataclass(frozen=True)
class DiffReport:
    """Every finding of one diff; ``compatible`` when none is breaking."""

    kind: Kind
    old: str
    new: str
    state: str | None
    findings: tuple[Finding, ...]

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    @property
    def compatible(self) -> bool:
        return self.counts["breaking"] == 0

    @property
    def exit_code(self) -> int:
        return 0 if self.compatible else 1

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "old": self.old, "new": self.new, "state": self.state,
                "compatible": self.compatible, "counts": self.counts, "exit_code": self.exit_code,
                "findings": [f.to_dict() for f in self.findings]}


def detect_kind(data: dict[str, Any]) -> Kind | None:
    """``catalog`` (has ``features`` or ``catalog``), ``contracts`` (has ``contracts``), else None."""
    if "features" in data or "catalog" in data:
        return "catalog"
    if "contracts" in data:
        return "contracts"
    return None


def _load(path: str) -> DiffSide:
    from jitplan.contracts.loading import parse_document, read_text

    text = read_text(path)
    return DiffSide(path, text, parse_document(text, path), line_index(text))


def _major_bump(old: str, new: str) -> bool:
    from packaging.version import Version

    a, b = Version(old), Version(new)
    return b.major > a.major or (a.major == 0 and b.major == 0 and b.minor > a.minor)


def _versions(catalog: Catalog) -> dict[str, list[FeatureSpec]]:
    """Every id's versions, oldest first (one pass: ``Catalog.versions`` per call is O(n))."""
    out: dict[str, list[FeatureSpec]] = {}
    for f in catalog.features:
        out.setdefault(f.id, []).append(f)
    return {k: sorted(v, key=lambda f: f.parsed_version) for k, v in out.items()}


def _prompt_digest(f: FeatureSpec, catalog: Catalog, cache: dict[Path, str | None]) -> str | None:
    if f.prompt is None:
        return None
    if catalog.source_dir:
        base = Path(catalog.source_dir)
        p = (base / f.prompt.path).resolve()
        if p not in cache:
            cache[p] = None
            if p.is_relative_to(base.resolve()) and p.is_file():
                with contextlib.suppress(OSError):
                    cache[p] = hashlib.sha256(p.read_bytes()).hexdigest()
        if cache[p] is not None:
            return cache[p]
    return f.prompt.sha256 or f"path:{f.prompt.path}"


def _check_prompt_files(catalog: Catalog, side: DiffSide) -> None:
    """Bad input, as ``catalog validate`` says: a prompt file that is missing, outside the
    catalog's directory or not UTF-8 text (it cannot be hashed as meant or scanned)."""
    from jitplan.tools.prompt_hygiene import not_text

    base = Path(catalog.source_dir) if catalog.source_dir else Path(side.source).resolve().parent
    seen: set[Path] = set()
    for j, f in enumerate(catalog.features):
        if f.prompt is None:
            continue
        field = f"features[{j}].prompt.path"
        p = (base / f.prompt.path).resolve()
        if p in seen:
            continue
        seen.add(p)
        if not p.is_relative_to(base.resolve()):
            raise UserError(f"prompt file must stay inside the catalog directory: {f.prompt.path}",
                            source=side.source, field=field)
        if not p.is_file():
            raise UserError(f"prompt file not found: {f.prompt.path}", source=side.source, field=field)
        try:
            problem = not_text(p.read_bytes())
        except OSError as exc:
            raise UserError(f"cannot read prompt file {f.prompt.path}: {exc.strerror}",
                            source=side.source, field=field) from None
        if problem is not None:
            raise UserError(f"prompt file {f.prompt.path} is not UTF-8 text ({problem[1]}, line {problem[0]})",
                            source=side.source, field=field)


class _CatalogDiff:
    def __init__(self, old: Catalog, new: Catalog, o: DiffSide, n: DiffSide, state: DeploymentState | None,
                 state_src: str | None) -> None:
        self.old, self.new, self.o, self.n = old, new, o, n
        self.state, self.state_src = state, state_src
        self.out: list[Finding] = []
        self.old_pos: dict[tuple[str, str], int] = {}
        for i, f in enumerate(old.features):
            self.old_pos.setdefault((f.id, f.version), i)
        self.old_versions, self.new_versions = _versions(old), _versions(new)
        self.digests: dict[Path, str | None] = {}
        self.new_pos: dict[tuple[str, str], int] = {}
        for j, f in enumerate(new.features):
            self.new_pos.setdefault((f.id, f.version), j)

    def add(self, sev: Severity, code: str, msg: str, side: DiffSide, path: tuple[str | int, ...],
            f: FeatureSpec | None) -> None:
        shown, line = side.where(*path)
        self.out.append(Finding(sev, code, msg, shown, side.source, line,
                                f.id if f else None, f.version if f else None))

    def run(self) -> list[Finding]:
        self.removed()
        for (fid, ver), j in self.new_pos.items():
            nf = self.new.features[j]
            if (fid, ver) in self.old_pos:
                self.pair(self.old.features[self.old_pos[(fid, ver)]], nf, j, in_place=True)
                continue
            older = [v for v in self.old_versions.get(fid, []) if v.parsed_version < nf.parsed_version]
            pred = older[-1] if older else None
            what = f"new version {nf.key}" + (f" (after {pred.version})" if pred else
                                               " (new feature)" if fid not in self.old_versions else "")
            self.add("info", "version_added", what, self.n, ("features", j), nf)
            if pred is not None:
                self.pair(pred, nf, j, in_place=False)
        self.references()
        return self.out

    def removed(self) -> None:
        for (fid, ver), i in self.old_pos.items():
            if (fid, ver) in self.new_pos:
                continue
            f = self.old.features[i]
            if self.state is None:
                self.add("needs-review", "version_removed",
                         f"{f.key} removed; pass --state FLAGS.json to check it is not deployed",
                         self.o, ("features", i), f)
                continue
            fs = self.state.get(fid)
            roles = [r for r, v in (("serving", fs.version), ("canary", fs.canary_version),
                                    ("shadow", fs.shadow_version)) if v == ver]
            if roles:
                self.add("breaking", "version_removed",
                         f"{f.key} removed but it is deployed in {self.state_src} ({', '.join(roles)})",
                         self.o, ("features", i), f)
            else:
                self.add("info", "version_removed", f"{f.key} removed (not deployed in {self.state_src})",
                         self.o, ("features", i), f)

    def pair(self, of: FeatureSpec, nf: FeatureSpec, j: int, *, in_place: bool) -> None:
        allow = not in_place and _major_bump(of.version, nf.version)
        ctx = "in place" if in_place else f"from {of.version}"

        def add(sev: Severity, code: str, msg: str, *path: str | int) -> None:
            if sev == "breaking" and allow:
                sev, msg = "needs-review", f"{msg} (allowed by the major bump {of.version} -> {nf.version})"
            self.add(sev, code, f"{nf.key}: {msg}", self.n, ("features", j, *path), nf)

        for name, direction in (("inputs", "input"), ("outputs", "output")):
            for ch in compare_schemas(getattr(of, name), getattr(nf, name), direction):  # type: ignore[arg-type]
                add(ch.severity, ch.code, f"{name} {ctx}: {ch.message}", name, *ch.path)
        if of.kind != nf.kind:
            add("needs-review", "kind_changed", f"kind {of.kind} -> {nf.kind} ({ctx})", "kind")
        if of.model != nf.model:
            add("needs-review" if in_place else "info", "model_changed",
                f"model {of.model} -> {nf.model} ({ctx})", "model")
        if _prompt_digest(of, self.old, self.digests) != _prompt_digest(nf, self.new, self.digests):
            if in_place:
                add("breaking", "prompt_changed_in_place",
                    f"prompt content changed but the version stayed {nf.version}: publish it as a new version",
                    "prompt")
            else:
                add("info", "prompt_changed", f"prompt changed {ctx}", "prompt")
        self.costs(of, nf, add, ctx)
        if nf.risk.level > of.risk.level:
            add("needs-review", "risk_increased", f"risk tier {of.risk.tier} -> {nf.risk.tier} ({ctx})", "risk", "tier")
        elif nf.risk.level < of.risk.level:
            add("info", "risk_decreased", f"risk tier {of.risk.tier} -> {nf.risk.tier} ({ctx})", "risk", "tier")
        new_classes = sorted(set(nf.risk.data_classes) - set(of.risk.data_classes))
        if new_classes:
            add("needs-review", "risk_increased", f"now handles {', '.join(new_classes)} ({ctx})",
                "risk", "data_classes")
        self.governance(of, nf, add, ctx)
        lost = sorted(set(of.provides) - set(nf.provides))
        if lost:
            add("breaking", "capability_removed",
                f"no longer provides {', '.join(lost)} ({ctx}): dependants relying on it lose it", "provides")

    @staticmethod
    def costs(of: FeatureSpec, nf: FeatureSpec, add: Any, ctx: str) -> None:
        for key in ("per_request_usd", "daily_budget_usd", "max_tokens"):
            a, b = getattr(of.cost, key), getattr(nf.cost, key)
            if a == b:
                continue
            if a is not None and (b is None or b > a):
                add("needs-review", "cost_increased", f"cost.{key} {a:g} -> {'none' if b is None else f'{b:g}'} ({ctx})",
                    "cost", key)
            elif a is None or (b is not None and b < a):
                add("info", "cost_decreased", f"cost.{key} {'none' if a is None else f'{a:g}'} -> {b:g} ({ctx})",
                    "cost", key)

    @staticmethod
    def governance(of: FeatureSpec, nf: FeatureSpec, add: Any, ctx: str) -> None:
        for key in ("roles", "regions"):
            a, b = set(getattr(of.governance, key)), set(getattr(nf.governance, key))
            if a and not b:
                add("needs-review", "governance_widened", f"governance.{key} no longer restricted ({ctx})",
                    "governance", key)
            elif b and (a - b or not a):
                gone = sorted(a - b) or ["(unrestricted)"]
                add("breaking", "governance_narrowed",
                    f"governance.{key} lost {', '.join(gone)} ({ctx}): they can no longer plan or use it",
                    "governance", key)
            elif b - a:
                add("info", "governance_widened", f"governance.{key} gained {', '.join(sorted(b - a))} ({ctx})",
                    "governance", key)
        if nf.governance.human_approval and not of.governance.human_approval:
            add("needs-review", "governance_narrowed", f"human approval now required ({ctx})",
                "governance", "human_approval")
        elif of.governance.human_approval and not nf.governance.human_approval:
            add("needs-review", "governance_widened", f"human approval no longer required ({ctx})",
                "governance", "human_approval")

    def counterpart(self, f: FeatureSpec) -> FeatureSpec | None:
        """``f``'s version in the old catalog, else its predecessor there (None for a new feature)."""
        if (f.id, f.version) in self.old_pos:
            return self.old.features[self.old_pos[(f.id, f.version)]]
        older = [v for v in self.old_versions.get(f.id, []) if v.parsed_version < f.parsed_version]
        return older[-1] if older else None

    def was(self, f: FeatureSpec, dep_id: str, new_range: str) -> str:
        """How ``f``'s old counterpart's own dependency on ``dep_id`` fared in the old catalog."""
        of = self.counterpart(f)
        old_dep = next((d for d in of.depends_on if d.id == dep_id), None) if of is not None else None
        if old_dep is None:
            return ""
        if not any(old_dep.admits(v.version) for v in self.old_versions.get(dep_id, [])):
            return " (already unresolved in the old catalog)"
        if old_dep.version != new_range:
            return f" (the old range {old_dep.version} resolved)"
        return ""

    def references(self) -> None:
        ids = set(self.new.ids)
        for j, f in enumerate(self.new.features):
            for k, dep in enumerate(f.depends_on):
                have = self.new_versions.get(dep.id, [])
                before = self.was(f, dep.id, dep.version)
                if dep.id not in ids:
                    self.add("breaking", "dependency_unresolved",
                             f"{f.key} depends on {dep.id}, which the new catalog does not have{before}",
                             self.n, ("features", j, "depends_on", k, "id"), f)
                elif not any(dep.admits(v.version) for v in have):
                    self.add("breaking", "dependency_unresolved",
                             f"{f.key} needs {dep.id} {dep.version}: no version resolves (catalog has "
                             f"{', '.join(v.version for v in have)}){before}",
                             self.n, ("features", j, "depends_on", k, "version"), f)
                elif self.state is not None and self.state.is_active(f.id, f.version):
                    serving = self.state.get(dep.id).version
                    if serving is not None and not dep.admits(serving):
                        self.add("needs-review", "dependency_excludes_serving",
                                 f"{f.key} is deployed and needs {dep.id} {dep.version}, but "
                                 f"{self.state_src} serves {dep.id}@{serving}",
                                 self.n, ("features", j, "depends_on", k, "version"), f)
            if f.fallback is not None and f.fallback not in ids:
                self.add("breaking", "fallback_unresolved",
                         f"{f.key} falls back to {f.fallback}, which the new catalog does not have",
                         self.n, ("features", j, "fallback"), f)


def _hygiene(old: Catalog, new: Catalog, o: DiffSide, n: DiffSide) -> list[Finding]:
    """Prompt hygiene of the new catalog; a warning the old catalog already had is ``info``."""
    from jitplan.tools.prompt_hygiene import check_prompt_hygiene

    before = {(h.code, h.feature, h.version) for h in check_prompt_hygiene(old, o.source, o.text)}
    out: list[Finding] = []
    for h in check_prompt_hygiene(new, n.source, n.text):
        sev: Severity = "breaking" if h.severity == "error" else "needs-review"
        msg = h.message
        if sev == "needs-review" and (h.code, h.feature, h.version) in before:
            sev, msg = "info", f"{msg} (already in the old catalog)"
        out.append(Finding(sev, h.code, msg, h.field, h.file, h.line, h.feature, h.version))
    return out


def diff_catalogs(old: Catalog, new: Catalog, o: DiffSide, n: DiffSide, state: DeploymentState | None = None,
                  state_src: str | None = None) -> list[Finding]:
    """Findings from catalog ``old`` to ``new`` (``o``/``n``: their files), hygiene included."""
    return [*_CatalogDiff(old, new, o, n, state, state_src).run(), *_hygiene(old, new, o, n)]


def _ordered(findings: list[Finding]) -> tuple[Finding, ...]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return tuple(sorted(findings, key=lambda f: rank[f.severity]))


def diff_files(old_path: str, new_path: str, *, state_path: str | None = None,
               kind: Literal["auto", "catalog", "contracts"] = "auto") -> DiffReport:
    """Load both files (and the flagd state) and diff them; bad input raises ``UserError``."""
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.loading import load_document
    from jitplan.contracts.state import DeploymentState

    o, n = _load(old_path), _load(new_path)
    ko, kn = detect_kind(o.data), detect_kind(n.data)
    if kind == "auto":
        for side, k in ((o, ko), (n, kn)):
            if k is None:
                raise UserError("cannot tell a catalog (features:) from data contracts (contracts:); "
                                "pass --kind", source=side.source)
        if ko != kn:
            raise UserError(f"is a {kn} file but {old_path} is a {ko} file: diff two of a kind",
                            source=new_path)
        kind = ko  # type: ignore[assignment]
    state = None
    if state_path is not None:
        state = DeploymentState.from_flagd(load_document(state_path), source=state_path)
    if kind == "contracts":
        from jitplan.tools.contract_diff import diff_contracts

        findings = diff_contracts(o, n)
    else:
        old = Catalog.from_data(o.data, source=o.source)
        new = Catalog.from_data(n.data, source=n.source)
        _check_prompt_files(new, n)
        findings = diff_catalogs(old, new, o, n, state, state_path)
    return DiffReport(kind, old_path, new_path, state_path, _ordered(findings))  # type: ignore[arg-type]
