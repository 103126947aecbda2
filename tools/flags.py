"""The flag store: the deployment state as a flagd flag-definitions JSON file, written atomically.

flagd (and every OpenFeature flagd provider in file mode) re-reads the file when it changes and
treats an empty or half-written file as "no flags", switching every feature off. So a write is:
temp file in the same directory, fsync, ``os.replace``, fsync the directory. The file is
canonical JSON (sorted keys, indent 2, trailing newline) so equal states give equal bytes.

Every write first archives the bytes it replaces under ``<file>.history/<sha256>.json``
(content-addressed) and appends the sha to ``<file>.history/log.jsonl``; ``restore(sha)`` puts
any archived version back byte for byte.
"""

from __future__ import annotations

__all__ = [
    "FlagStore",
    "StepError",
    "apply_action",
    "atomic_write_bytes",
    "render_flagd",
    "restore_feature",
    "sha256_bytes",
]

import contextlib
import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jitplan.contracts.errors import UserError
from jitplan.contracts.loading import check_json_nesting, read_text
from jitplan.contracts.state import DeploymentState, StepError


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of raw bytes."""
    return hashlib.sha256(data).hexdigest()


def render_flagd(state: DeploymentState) -> bytes:
    """Canonical flagd JSON for a state: sorted keys, indent 2, trailing newline."""
    return (json.dumps(state.to_flagd(), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably (temp, fsync, rename, fsync dir)."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


class FlagStore:
    """A flagd flag-definitions file holding the deployment state, with a history for rollback."""

    def __init__(self, path: str | os.PathLike[str], *, history: bool = True) -> None:
        self.path = Path(path)
        self.history_dir = self.path.with_name(self.path.name + ".history")
        self.keep_history = history

    # ---- reading -----------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def read_bytes(self) -> bytes:
        """The file's bytes after checking they parse as a flagd state (UserError otherwise)."""
        text = read_text(self.path)
        self._parse(text)
        return text.encode()

    def read(self) -> DeploymentState:
        """The deployment state in the file; a missing or malformed file is a ``UserError``."""
        return self._parse(read_text(self.path))

    def read_or_empty(self) -> DeploymentState:
        """Like ``read`` but a missing file is the empty state."""
        return self.read() if self.path.exists() else DeploymentState()

    def file_sha256(self) -> str | None:
        """sha256 of the file's current bytes (None when missing)."""
        try:
            return sha256_bytes(self.path.read_bytes())
        except FileNotFoundError:
            return None

    def _parse(self, text: str) -> DeploymentState:
        src = str(self.path)
        check_json_nesting(text, src)  # json.loads recurses per level
        try:
            doc: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", source=src
            ) from None
        if not isinstance(doc, dict):
            raise UserError("expected a flagd flag-definitions object", source=src)
        return DeploymentState.from_flagd(doc, source=src)

    # ---- writing -----------------------------------------------------------------------

    def write(self, state: DeploymentState) -> None:
        """Atomically replace the file with ``state`` (a no-op when the bytes are unchanged)."""
        self.write_bytes(render_flagd(state))

    def write_bytes(self, data: bytes) -> None:
        """Atomically replace the file with already-rendered bytes, archiving the old ones."""
        self._parse(data.decode())  # never put an invalid document where flagd reads it
        try:
            current: bytes | None = self.path.read_bytes()
        except FileNotFoundError:
            current = None
        if current == data:
            return
        if current is not None and self.keep_history:
            self.archive(current)
        atomic_write_bytes(self.path, data)

    # ---- history -----------------------------------------------------------------------

    def archive(self, data: bytes) -> str:
        """Keep ``data`` in the history (content-addressed); returns its sha256."""
        digest = sha256_bytes(data)
        target = self.history_dir / f"{digest}.json"
        if not target.exists():
            atomic_write_bytes(target, data)
        entry = json.dumps({"sha256": digest, "ts": datetime.now(UTC).isoformat()}) + "\n"
        with open(self.history_dir / "log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(entry)
            fh.flush()
            os.fsync(fh.fileno())
        return digest

    def history(self) -> list[str]:
        """sha256 of each replaced version, oldest first."""
        log = self.history_dir / "log.jsonl"
        if not log.exists():
            return []
        out: list[str] = []
        for line in log.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError, KeyError, TypeError):
                out.append(str(json.loads(line)["sha256"]))
        return out

    def archived(self, digest: str) -> bytes | None:
        """The archived bytes with this sha256 (None when not kept or corrupted)."""
        target = self.history_dir / f"{digest}.json"
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            return None
        return data if sha256_bytes(data) == digest else None

    def previous(self) -> DeploymentState | None:
        """The state before the last write, when kept."""
        for digest in reversed(self.history()):
            data = self.archived(digest)
            if data is not None:
                return self._parse(data.decode())
        return None

    def restore(self, digest: str) -> None:
        """Put the archived version ``digest`` back, byte for byte."""
        data = self.archived(digest)
        if data is None:
            raise UserError(f"no archived version {digest[:12]}", source=str(self.history_dir))
        self.write_bytes(data)


# ---- state transitions: defined once, in ``DeploymentState.apply`` ------------------------


def apply_action(
    state: DeploymentState,
    action: str,
    feature: str | None,
    version: str | None = None,
    params: dict[str, object] | None = None,
) -> DeploymentState:
    """``state.apply`` of the step ``action feature@version params`` (a convenience for scripts
    and tests; bad params raise ``StepError``, like a step that cannot apply)."""
    from pydantic import ValidationError

    from jitplan.contracts.plan import Step

    try:
        step = Step(id="apply", action=action, feature=feature, version=version,  # type: ignore[arg-type]
                    params=dict(params or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise StepError(f"{action} {feature}: {where}: {err['msg']}") from None
    return state.apply(step)


def restore_feature(state: DeploymentState, feature: str, before: dict[str, object] | None) -> DeploymentState:
    """``state`` with one feature put back exactly as ``before`` (absent when None)."""
    from jitplan.contracts.state import FeatureState

    features = dict(state.features)
    if before is None:
        features.pop(feature, None)
    else:
        features[feature] = FeatureState.model_validate(before)
    return DeploymentState(features=dict(sorted(features.items())))
