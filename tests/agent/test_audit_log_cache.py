"""The per-thread audit log cache of the graph's nodes (``agent.nodes.common.audit_log``)."""

from __future__ import annotations

import threading

from jitplan.agent.nodes.common import audit_log


def test_many_threads_never_close_a_log_another_thread_is_using() -> None:
    # LangGraph runs tools on pool threads, so a process sees many thread ids; the cache may
    # drop the logs of ended threads, never one a live thread holds
    mine = audit_log()
    mine.append("test_before", {"n": 0})
    n = 40
    all_open = threading.Barrier(n)  # 40 threads alive at once: 40 distinct thread ids

    def work(i: int) -> None:
        log = audit_log()
        all_open.wait(timeout=30)
        log.append("test_thread", {"n": i})

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mine.append("test_after", {"n": 1})  # raised on a closed connection before
    assert audit_log() is mine
    kinds = [r.kind for r in mine.records()]
    assert kinds.count("test_thread") == 40 and kinds[-1] == "test_after"
    assert mine.verify().ok
