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
import sys
import threading
import time
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


def start_unwaited(target: Callable[..., Any], *args: Any) -> None:
    """Start `target(*args)` on a new thread, signals blocked, and return at once.

    `threading.Thread.start()` waits until the new thread has run: on a busy machine, tens
    of milliseconds until the scheduler gets to it (init() uses this for what it starts).
    The thread cannot be joined (`target` says itself when it is done, e.g. with an Event),
    is not in `threading.enumerate()` and is not waited for at exit. `target` must catch
    its own exceptions."""
    _thread.start_new_thread(_blocking_signals(target, args), ())


#: work that threads go on with after the call that handed it to them returned (the
#: writer's last rows and seal after finish()): the interpreter's exit waits for each
_unfinished: set[threading.Event] = set()


def wait_at_exit(done: threading.Event) -> None:
    """Have the interpreter's exit (and `join_unwaited`) wait until `done` is set by
    `finished`, as it waits for a non-daemon thread."""
    if not done.is_set():
        _unfinished.add(done)


def finished(done: threading.Event) -> None:
    """The work `done` stands for is done (call it in a `finally`: an Event never set
    would hang the interpreter's exit)."""
    _unfinished.discard(done)
    done.set()


#: seconds the interpreter's exit waits for that work at most. What it waits for is never
#: all a kill -9 would leave: a writer's rows are in its journals, its run recorded finished,
#: before its thread seals (store/writer_close.py); a thread stuck past this (a hung disk,
#: a lock never released) must not keep the process from exiting
EXIT_WAIT = 120.0


def join_unwaited(timeout: float | None = None) -> bool:
    """Wait for the work handed to threads that `wait_at_exit` names (finish()'s last seal):
    what the interpreter's exit does, and what a test does before it looks. Returns
    whether all of it is done (`timeout`: seconds in all)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for done in list(_unfinished):
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not done.wait(left):
            return False
        _unfinished.discard(done)
    return True


def _at_exit() -> None:
    if not join_unwaited(EXIT_WAIT):
        sys.stderr.write(
            f"flightlog: a writer thread did not finish sealing within {EXIT_WAIT:g} s; "
            "exiting anyway: its rows are kept in its journals, which `flightlog doctor "
            "--repair`, `flightlog sync` or a resume turns into segments\n"
        )


def _register_exit_wait() -> None:
    """Wait for that work at the earliest point of the interpreter's exit: among threading's
    exit hooks (before non-daemon threads are joined, long before the interpreter finalizes
    and Python 3.12 refuses new threads). Registered with `atexit`, the wait came after
    threading's shutdown, and a seal begun at exit that imported concurrent.futures for the
    first time failed ("can't register atexit after shutdown") and left its journals for
    doctor (a script run twice in a fresh clone: 1 exit in 2-6). A thread pool may still be
    shut down by then (concurrent.futures' hook, if imported later, runs before this one):
    what the seal runs on one falls back to this thread (flightlog/media/_sink.py). Not
    imported here to order the hooks: `import flightlog` loads what the write path needs."""
    register = getattr(threading, "_register_atexit", None)  # private since 3.9, kept in 3.13
    if register is None:
        atexit.register(_at_exit)
    else:
        register(_at_exit)


_register_exit_wait()  # a no-op at exit unless such work is still going on
# a forked child has none of its parent's threads: its exit waits for none of them
os.register_at_fork(after_in_child=_unfinished.clear)
