"""Process-exit hooks: every live run is finished however the process ends.

- normal exit: `atexit` finishes runs (failed, with the traceback, if an exception escaped:
  recorded by the chained `sys.excepthook`; failed with "exit code N" after `sys.exit(N)`,
  N not 0, which the wrapped `sys.exit` records, as wandb's does - only the main thread's,
  and only while its SystemExit is not caught: see `_ExitNote`);
- SIGTERM (what Slurm sends at the time limit): runs are finished (from a helper thread: see
  `_on_sigterm`) and marked failed, then the signal is delivered again with the default
  disposition so the process ends as it would have.
  If the script installed its own SIGTERM handler, flightlog only flushes and calls it;
- kill -9: nothing runs; the writer's 100 ms flushes bound what is lost.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import traceback
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from flightlog.store.threads import start_thread

if TYPE_CHECKING:
    from ._run import Run

_live: list[Run] = []
_console: Any = None  # the ConsoleCapture of this process, if a run holds one
_installed_pid: int | None = None
_prev_excepthook = sys.excepthook
_prev_sigterm: Any = signal.SIG_DFL
_prev_exit = sys.exit


class _ExitNote:
    """Carried by the SystemExit that the main thread's `sys.exit()` raised, to learn when
    that exception is dropped. One that ends the process is dropped by the interpreter
    after the script's last frame returned, before `atexit`: its status stays for
    `_at_exit`. One the script caught (argparse's parse_args in a `try`, a test of a
    command) is dropped while frames still run: the process goes on and may end well, so
    its status is forgotten. One kept alive (stored by the script) stays, as before."""

    def __init__(self, number: int) -> None:
        self.number = number  # which sys.exit() call: a later one's status is not undone

    def __del__(self) -> None:
        global _exit_status
        if self.number != _exits:
            return
        try:
            sys._getframe(1)  # a frame below this one: the script still runs
        except ValueError:
            return  # no frame: the exception ended the process
        _exit_status = None


_exit_status: Any = None  # what the main thread's sys.exit() ending the process was given
_exits = 0  # the main thread's sys.exit() calls


def register(run: Run) -> None:
    global _installed_pid
    if _installed_pid != os.getpid():
        _installed_pid = os.getpid()
        atexit.register(_at_exit)
        _install_excepthook()
        _install_exit()
        _install_sigterm()
    _live.append(run)


def unregister(run: Run) -> None:
    if run in _live:
        _live.remove(run)


def live_runs() -> list[Run]:
    return list(_live)


def console_taken() -> bool:
    """One console capture per process: runs started while another captures do not."""
    return _console is not None


def take_console(capture: Any) -> Any:
    global _console
    _console = capture
    return capture


def release_console(capture: Any) -> None:
    global _console
    if _console is capture:
        _console = None


def _in_forked_child() -> None:
    """A forked child (multiprocessing's workers on Linux) inherits its parent's runs but
    not their threads, and shares their journals' memory: its log() wrote into the parent's
    journal, and a crash of the parent then recovered the child's rows as its own. In the
    child they record nothing (log() says so once) and print() is not copied."""
    global _console
    for run in _live:
        run._live = False
    _live.clear()
    if _console is not None:
        _console.detach()
        _console = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_in_forked_child)


def _at_exit() -> None:
    error = exit_error(_exit_status)
    for run in reversed(_live[:]):
        if error is None:
            run._finish()
        else:
            run._fail(error)


def exit_error(status: Any) -> str | None:
    """A run's error for the process ending with `sys.exit(status)`: None for success (0,
    None), "exit code N", or the message (which Python prints, exit code 1)."""
    if status is None or status == 0:
        return None
    return f"exit code {status}" if isinstance(status, int) else f"exit code 1: {status}"


def _install_exit() -> None:
    global _prev_exit
    if sys.exit is not _exit:
        _prev_exit, sys.exit = sys.exit, _exit


def _exit(status: Any = None) -> None:
    """`sys.exit`, noting the main thread's status for `_at_exit` (SystemExit runs no
    excepthook); another thread's sys.exit() ends that thread only."""
    global _exit_status, _exits
    try:
        _prev_exit(status)
    except SystemExit as e:
        if threading.current_thread() is threading.main_thread():
            _exit_status, _exits = status, _exits + 1
            e._flightlog_exit = _ExitNote(_exits)  # type: ignore[attr-defined]
        raise


def _install_excepthook() -> None:
    global _prev_excepthook
    if sys.excepthook is _excepthook:
        return
    _prev_excepthook = sys.excepthook
    sys.excepthook = _excepthook


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    for run in reversed(_live[:]):
        run._fail(text)
    _prev_excepthook(exc_type, exc, tb)


def _install_sigterm() -> None:
    global _prev_sigterm
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    try:
        prev = signal.getsignal(signal.SIGTERM)
        if prev is _on_sigterm:
            return
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        return
    _prev_sigterm = prev


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if callable(_prev_sigterm):
        for run in _live[:]:
            if run._writer is not None:
                run._writer.flush(inline=True)  # the script's handler decides what comes next
        _prev_sigterm(signum, frame)
        return
    # The main thread may have been interrupted inside log(), holding a run's lock: finishing
    # here would wait for the writer thread, which waits for that lock. So a helper thread
    # finishes the runs (taking the lock like any thread) and then ends the process as
    # SIGTERM would have. It is not a daemon: shutdown waits for it. A second SIGTERM kills
    # at once.
    ignore = _prev_sigterm == signal.SIG_IGN
    signal.signal(signal.SIGTERM, signal.SIG_IGN if ignore else signal.SIG_DFL)
    runs = list(reversed(_live))
    for run in runs:
        run.terminated = True  # log() calls after the finish drop quietly, counted
    start_thread(_finish_after_sigterm, "flightlog-sigterm", runs, ignore, daemon=False)


def _finish_after_sigterm(runs: list[Run], ignore: bool) -> None:
    for run in runs:
        run._fail("terminated by SIGTERM")
    dropped = sum(run._dropped_after_finish for run in runs)
    if dropped:
        print(
            f"flightlog: {dropped:,} log() calls made after SIGTERM finished the run were not "
            "recorded",
            file=sys.stderr,
            flush=True,
        )
    if not ignore:
        os.kill(os.getpid(), signal.SIGTERM)  # delivered to the main thread: default action
