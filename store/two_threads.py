"""Running a large read's numpy and Arrow work on two cores.

`pq.read_table` decodes on every core; a history pivoted on one thread made `history()`
2.7x its wall time on an idle 2-core machine (1.8x in CPU). numpy's copies, arithmetic and
fancy indexing and Arrow's kernels release the GIL, so the pivot's passes over the long
rows run as two halves (or two independent tasks) on two threads. One helper thread, started
on first use (signals blocked, store/threads.py) and fed by a queue, does the other half: a
read pays no thread start. Work below MIN_ROWS rows runs on the calling thread alone: a
100-step history is not worth the hand-over.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from .threads import start_thread

#: fewer long rows than this are worked on by the calling thread only
MIN_ROWS = 1 << 17

_Job = tuple[Callable[[], object], Future]
_lock = threading.Lock()
_jobs: queue.SimpleQueue[_Job] | None = None
_helper: threading.Thread | None = None


def both(first: Callable[[], object], second: Callable[[], object], rows: int) -> None:
    """Run `first` on the helper thread and `second` on this one, and return when both
    are done; an exception of either is raised here (`second`'s first). Work on fewer
    than MIN_ROWS `rows`, or asked for by a job of the helper itself: one after the other,
    here."""
    if rows < MIN_ROWS or threading.current_thread() is _helper:
        first()
        second()
        return
    done: Future = Future()
    _queue().put((first, done))
    try:
        second()
    finally:
        error = done.exception()  # waits for `first`, whatever `second` did
    if error is not None:
        raise error


def halves(work: Callable[[int, int], object], n: int) -> None:
    """`work(a, b)` over rows [0, n): the two halves on two threads from MIN_ROWS rows on
    (the halves must write disjoint places), else `work(0, n)` here."""
    if n < max(MIN_ROWS, 2):  # each half holds a row
        work(0, n)
        return
    h = n // 2
    both(lambda: work(0, h), lambda: work(h, n), n)


def _queue() -> queue.SimpleQueue[_Job]:
    global _jobs, _helper
    with _lock:
        if _jobs is None:
            _jobs = queue.SimpleQueue()
            _helper = start_thread(_serve, "flightlog-read-helper", _jobs)
        return _jobs


def _serve(jobs: queue.SimpleQueue[_Job]) -> None:
    while True:
        fn, done = jobs.get()
        try:
            fn()
        except BaseException as e:  # handed to the waiting caller, raised there
            done.set_exception(e)
        else:
            done.set_result(None)


def _forget_helper() -> None:
    """A forked child has no helper thread (only the forking thread survives a fork)."""
    global _jobs, _helper, _lock
    _jobs, _helper, _lock = None, None, threading.Lock()


os.register_at_fork(after_in_child=_forget_helper)
