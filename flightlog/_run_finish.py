"""How a run ends: `finish()`, the context manager, and the failure path the exit hooks use
(flightlog._hooks calls `_finish` and `_fail`).

Finishing is idempotent and resumable, and only the process that started the run does it (a
forked child must not seal its parent's run). `Run` inherits these; `say` is the one line on
stderr that init() and finish() print.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from types import TracebackType
from typing import TYPE_CHECKING

from flightlog.store.text import fmt, safe

from . import _hooks
from ._settings import Settings

if TYPE_CHECKING:
    from ._run import Run


def say(message: str, settings: Settings | None = None) -> None:
    """One line on stderr, prefixed like wandb's, unless FLIGHTLOG_SILENT is set."""
    if settings is None or not settings.silent:
        print(f"flightlog: {message}", file=sys.stderr, flush=True)


class RunFinish:
    """The finishing members of `Run` (see the module's docstring)."""

    def finish(self: Run, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Commit the pending row and mark the run finished/failed; the writer thread writes
        and seals the last rows after it returns (store/writer_close.py)."""
        if exit_code and self._error is None:
            self._error = f"exit code {exit_code}"
        self._finish(quiet=bool(quiet))

    def _finish(self: Run, quiet: bool = False) -> None:
        """Idempotent, and resumable: a KeyboardInterrupt cutting it short leaves the run
        registered, so a second finish() (or the exit hook) completes it."""
        with self._lock:
            if self._closed or os.getpid() != self._pid:
                return  # already done, or a forked child that must not touch the parent's run
            if not self._finished:
                self._commit()
                self._finished = True
                self._live = False
                self._meta_dirty = True
        if self._writer is not None:
            self._wait_context(10.0)
            # recorded finished first; the writer thread seals after the rest, off this path
            self._writer.close(then=self._stop_context)
        # two finishing threads (SIGTERM's helper) both get here: the first says the line
        # before the other goes on (the helper then ends the process)
        with self._lock:
            done_before, self._closed = self._closed, True
            if not done_before and self._writer is not None and not quiet:
                say(self._finish_line(), self.settings)
        if not done_before:
            _hooks.unregister(self)

    def _stop_context(self: Run) -> None:
        """Stop the system sampler, the file saver and the console copy (no thread joined)."""
        if self._sampler is not None:
            self._sampler.stop()
            self._sampler = None
        if self._saver is not None:
            self._saver.close()
            self._saver = None
        if self._console is not None:
            self._console.stop()
            _hooks.release_console(self._console)
            self._console = None

    def _finish_line(self: Run) -> str:
        took = time.time() - self._started
        steps = self._step
        summ = self._summary_dict()
        shown = [f"{safe(k)} {fmt(v)}" for k, v in summ.items() if not k.startswith("_")][:4]
        state = "failed" if self._error else "finished"
        tail = f" · {', '.join(shown)}" if shown else ""
        noun = "step" if steps == 1 else "steps"
        return f"{state} {self.name} ({self.id}): {steps} {noun} in {took:.1f}s{tail}"

    def _fail(self: Run, error: str) -> None:
        """Mark the run failed with `error` (a traceback) and finish it."""
        with self._lock:
            if self._error is None:
                self._error = error
        self._finish()

    def __enter__(self: Run) -> Run:
        return self

    def __exit__(
        self: Run,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc_type is None:
            error = None
        elif isinstance(exc, SystemExit):  # sys.exit(0) inside the block: a success
            error = _hooks.exit_error(exc.code)
        else:
            error = "".join(traceback.format_exception(exc_type, exc, tb))
        if error is None:
            self._finish()
        else:
            self._fail(error)
        return False
