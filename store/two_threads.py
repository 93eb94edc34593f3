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
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .threads import start_thread

#: fewer long rows than this are worked on by the calling thread only
MIN_ROWS = 1 << 17
#: files of fewer bytes than this in all are read by the calling thread only (a sealed
#: segment holds ~0.3-3 bytes a long row)
MIN_BYTES = 1 << 18

T = TypeVar("T")
R = TypeVar("R")
_Reply = queue.SimpleQueue[BaseException | None]
_Job = tuple[Callable[[], object], _Reply]
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
    _both(first, second)


def _both(first: Callable[[], object], second: Callable[[], object]) -> None:
    reply: _Reply = queue.SimpleQueue()
    _queue().put((first, reply))
    try:
        second()
    finally:
        error = reply.get()  # waits for `first`, whatever `second` did
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


def each(work: Callable[[T], R], items: Sequence[T], nbytes: int) -> list[R]:
    """`[work(x) for x in items]`, this thread and the helper each taking the next item
    until none is left (files of a run: from two on, of `nbytes` >= MIN_BYTES in all)."""
    if len(items) < 2 or nbytes < MIN_BYTES or threading.current_thread() is _helper:
        return [work(x) for x in items]
    out: list[Any] = [None] * len(items)
    left = iter(range(len(items)))
    take = threading.Lock()
    failed = threading.Event()  # one side failed (or was interrupted): the other stops too

    def drain() -> None:
        try:
            while not failed.is_set():
                with take:
                    i = next(left, None)
                if i is None:
                    return
                out[i] = work(items[i])
        except BaseException:
            failed.set()
            raise

    _both(drain, drain)
    return out


def _queue() -> queue.SimpleQueue[_Job]:
    global _jobs, _helper
    with _lock:
        if _jobs is None:
            _jobs = queue.SimpleQueue()
            _helper = start_thread(_serve, "flightlog-read-helper", _jobs)
        return _jobs


def _serve(jobs: queue.SimpleQueue[_Job]) -> None:
    while True:
        fn, reply = jobs.get()
        try:
            fn()
        except BaseException as e:  # handed to the waiting caller, raised there
            reply.put(e)
        else:
            reply.put(None)


def _forget_helper() -> None:
    """A forked child has no helper thread (only the forking thread survives a fork)."""
    global _jobs, _helper, _lock
    _jobs, _helper, _lock = None, None, threading.Lock()


os.register_at_fork(after_in_child=_forget_helper)
