"""Background threads that never receive the process's signals.

The kernel delivers a process-directed signal (SIGTERM from Slurm, SIGINT from Ctrl-C) to any
thread that does not block it. If it lands on one of flightlog's threads, the main thread's
`time.sleep()` or blocking read is not interrupted and the script's handler runs late or
never. So every thread flightlog starts blocks them first.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

_BLOCKED = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2}


def start_thread(
    target: Callable[..., Any], name: str, *args: Any, daemon: bool = True
) -> threading.Thread:
    """Start a thread running `target(*args)` with process signals blocked (a daemon unless
    the interpreter must wait for it)."""

    def run() -> None:
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
        target(*args)

    t = threading.Thread(target=run, name=name, daemon=daemon)
    t.start()
    return t
