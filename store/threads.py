"""Background threads that never receive the process's signals.

The kernel delivers a process-directed signal (SIGTERM from Slurm, SIGINT from Ctrl-C) to any
thread that does not block it. If it lands on one of flightlog's threads, the main thread's
`time.sleep()` or blocking read is not interrupted and the script's handler runs late or
never. So every thread flightlog starts blocks them first.
"""

from __future__ import annotations

import _thread
import signal
import threading
from collections.abc import Callable
from typing import Any

_BLOCKED = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2}


def _blocking_signals(target: Callable[..., Any], args: tuple[Any, ...]) -> Callable[[], None]:
    def run() -> None:
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
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

    `threading.Thread.start()` waits until the new thread has run: on a busy machine, the
    milliseconds until the scheduler gets to it (init() uses this for what it starts). The
    thread cannot be joined (`target` says itself when it is done, e.g. with an Event), is
    not in `threading.enumerate()`, and the interpreter does not wait for it at exit.
    `target` must catch its own exceptions."""
    _thread.start_new_thread(_blocking_signals(target, args), ())
