"""Parallel replications in worker processes that never import the caller's ``__main__``.

``multiprocessing``'s spawn and forkserver start methods re-run the caller's script in every
child, so ``simulator.run(..., workers=2)`` at the top level of a plain script (no
``if __name__ == "__main__":`` guard) made each child start a pool of its own while
bootstrapping: "An attempt has been made to start a new process before the current process has
finished its bootstrapping phase", then ``BrokenProcessPool``. Fork avoids that but is unsafe
with threads and not the default on macOS. So each worker here is a fresh interpreter,
``python -P -c "...serve_forever()"`` (``-P``: the caller's working directory is not put on
``sys.path``), fed one replication at a time over a pipe. It imports nothing but
``jitplan.simulator``: safe from scripts, notebooks, ``python -c`` and the REPL alike.

Protocol (length-prefixed pickles): the parent writes a task tuple (``None`` to stop); the
worker answers ``("ok", ReplicationResult)``, ``("user_error", (detail, source, field))`` (raised
again as the same ``UserError`` in the caller) or ``("error", traceback text)`` (``RunError``). The worker's
stdout is moved to its stderr so a stray print cannot corrupt the protocol.
"""

from __future__ import annotations

__all__ = ["Task", "run_in_workers", "run_on_ray", "run_task", "serve_forever"]

import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from jitplan.contracts.errors import RunError, UserError
from jitplan.contracts.plan import Plan
from jitplan.contracts.scenario import Scenario
from jitplan.simulator.replication import run_replication
from jitplan.simulator.result import ReplicationResult

Task = tuple[str, str | None, str, int, int]
"""One replication: scenario JSON, plan JSON (or None), engine, seed, replication index."""


def run_task(task: Task) -> ReplicationResult:
    """Run one replication in this process (workers, Ray); replication ``i`` draws from child
    ``i`` of ``SeedSequence(seed)``."""
    sc_json, plan_json, engine, seed, index = task
    sc = Scenario.model_validate_json(sc_json)
    plan = Plan.model_validate_json(plan_json) if plan_json else None
    child = np.random.SeedSequence(seed).spawn(index + 1)[index]
    return run_replication(sc, plan, engine, child, index)
_HEADER = struct.Struct("!Q")


def _send(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _recv(stream: IO[bytes]) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("worker pipe closed")
    (n,) = _HEADER.unpack(head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("worker pipe closed mid-message")
    return pickle.loads(data)


def _worker_command() -> list[str]:
    code = "import sys; from jitplan.simulator.pool import serve_forever; sys.exit(serve_forever())"
    return [sys.executable, "-P", "-c", code]


def _worker_env() -> dict[str, str]:
    """The caller's environment, with the folder holding this ``jitplan`` first on the path."""
    import jitplan

    env = dict(os.environ)
    root = str(Path(jitplan.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def run_in_workers(
    tasks: list[Task],
    workers: int,
    progress: Callable[[float], None] | None = None,
) -> list[ReplicationResult]:
    """Run ``tasks`` (see ``run_task``) on ``workers`` fresh interpreters.

    Results come back in task order; a failing replication raises ``RunError``
    with the worker's traceback.
    """
    todo: queue.SimpleQueue[tuple[int, Task]] = queue.SimpleQueue()
    for pos, t in enumerate(tasks):
        todo.put((pos, t))
    done: queue.SimpleQueue[tuple[str, Any, int]] = queue.SimpleQueue()
    procs: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()

    def serve(proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            while not stop.is_set():
                try:
                    pos, task = todo.get_nowait()
                except queue.Empty:
                    break
                _send(proc.stdin, task)
                status, payload = _recv(proc.stdout)
                done.put((status, payload, pos))
                if status != "ok":
                    return
            _send(proc.stdin, None)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            done.put(("error", f"worker process {proc.pid} died ({exc}); exit code {proc.poll()}", -1))

    env = _worker_env()
    threads = []
    finished = False
    try:
        for _ in range(min(workers, len(tasks))):
            proc = subprocess.Popen(
                _worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
            )
            procs.append(proc)
            th = threading.Thread(target=serve, args=(proc,), daemon=True)
            th.start()
            threads.append(th)
        out: dict[int, ReplicationResult] = {}
        while len(out) < len(tasks):
            status, payload, pos = done.get()
            if status == "user_error":
                detail, source, field = payload
                raise UserError(detail, source=source, field=field)
            if status != "ok":
                raise RunError(f"a simulation replication failed in a worker process:\n{payload}")
            out[pos] = payload  # by task position: a sweep repeats replication indexes
            if progress is not None:
                progress(len(out) / len(tasks))
        finished = True
        return [out[i] for i in sorted(out)]
    finally:
        stop.set()
        if not finished:  # a failure or an interrupt: stop the other replications now
            for proc in procs:
                proc.kill()
        for th in threads:
            th.join()
        for proc in procs:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
            proc.wait()


def run_on_ray(
    tasks: list[Task], progress: Callable[[float], None] | None = None
) -> list[ReplicationResult]:
    """``run_task`` for each task as Ray tasks (``RAY_ADDRESS``, else a local instance); results
    in task order, progress in completion order."""
    try:
        import ray  # type: ignore[import-not-found]
    except ImportError:
        raise UserError(
            "--backend ray needs the 'ray' package (pip install 'jitplan[ray]')"
        ) from None
    if not ray.is_initialized():
        ray.init(
            address=os.environ.get("RAY_ADDRESS"), ignore_reinit_error=True, log_to_driver=False
        )
    remote = ray.remote(run_task)
    refs = [remote.remote(t) for t in tasks]
    pending, finished = list(refs), 0
    while pending:  # wait in completion order for the progress bar, collect in task order
        done, pending = ray.wait(pending, num_returns=min(len(pending), max(1, len(refs) // 50)))
        finished += len(done)
        if progress is not None:
            progress(finished / len(refs))
    results: list[ReplicationResult] = ray.get(refs)
    return results


def serve_forever() -> int:
    """Worker side: read tasks from stdin, answer on the original stdout."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's: it stops the workers
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # prints in a replication go to stderr, never into the protocol
    proto_in = sys.stdin.buffer
    while True:
        try:
            task = _recv(proto_in)
        except EOFError:
            return 0
        if task is None:
            return 0
        try:
            reply: tuple[str, Any] = ("ok", run_task(task))
        except UserError as exc:  # bad input found while simulating: the same error as in-process
            reply = ("user_error", (exc.detail, exc.source, exc.field))
        except BaseException:
            reply = ("error", traceback.format_exc())
        _send(proto_out, reply)
        if reply[0] != "ok":
            return 1
