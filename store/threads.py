"""Background threads that never receive the process's signals.

The kernel delivers a process-directed signal (SIGTERM from Slurm, SIGINT from Ctrl-C) to any
thread that does not block it. If it lands on one of flightlog's threads, the main thread's
`time.sleep()` or blocking read is not interrupted and the script's handler runs late or
never. So every thread flightlog starts blocks them first.
"""

from __future__ import annotations

import _thread
import atexit
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

_BLOCKED = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2}


def block_process_signals() -> None:
    """Block the process's signals on the calling thread (a pool's initializer)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)


def _blocking_signals(target: Callable[..., Any], args: tuple[Any, ...]) -> Callable[[], None]:
    def run() -> None:
        block_process_signals()
        target(*args)

    return run


def start_thread(
    target: Callable[..., Any], name: str, *args: Any, daemon: bool = True
) -> threading.Thread:
    """Start a thread running `target(*args)` with process signals blocked (a daemon unless
    the interpreter must wait for it)."""
    t = threading.Thread(target=_blocking_signals(target, args), name=name, daemon=daemon)
    t.start()
    return t


#: the threads `start_unwaited(..., wait_at_exit=True)` started that have not ended yet:
#: the interpreter's exit waits for them, as it waits for a non-daemon thread
_unfinished: set[threading.Event] = set()


def start_unwaited(target: Callable[..., Any], *args: Any, wait_at_exit: bool = False) -> None:
    """Start `target(*args)` on a new thread, signals blocked, and return at once.

    `threading.Thread.start()` waits until the new thread has run: on a busy machine, tens
    of milliseconds until the scheduler gets to it (init() and finish() use this for what
    they start). The thread cannot be joined (`target` says itself when it is done, e.g.
    with an Event) and is not in `threading.enumerate()`; the interpreter waits for it at
    exit only if `wait_at_exit` (through atexit, where a non-daemon thread is waited for
    just before): work that must be done, which runs here and now if no thread can start
    (out of threads or memory, or the interpreter is exiting). `target` must catch its
    own exceptions."""
    run = _blocking_signals(target, args)
    if not wait_at_exit:
        _thread.start_new_thread(run, ())
        return
    done = threading.Event()

    def tracked() -> None:
        try:
            run()
        finally:
            _unfinished.discard(done)
            done.set()

    _unfinished.add(done)
    try:
        _thread.start_new_thread(tracked, ())
    except (RuntimeError, OSError, MemoryError):
        tracked()


def join_unwaited() -> None:
    """Wait for every thread `start_unwaited(..., wait_at_exit=True)` started (finish()'s
    cleanup): what the interpreter's exit does, and what a test does before it looks."""
    for done in list(_unfinished):
        done.wait()


atexit.register(join_unwaited)  # a no-op unless such a thread is still running
# a forked child has none of its parent's threads: its exit waits for none of them
os.register_at_fork(after_in_child=_unfinished.clear)
