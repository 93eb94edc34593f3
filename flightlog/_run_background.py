"""What a run starts that init() does not wait for: the writer's, the console copy's and the
system sampler's threads, then the slow part of the run's context (git, packages, GPUs).

Starting a thread waits until the scheduler runs it (milliseconds on a busy machine), and
git takes a process or five, so init() hands all of it to one thread that it does not wait
for (`store.threads.start_unwaited`), started as its last step. Nothing a reader or a kill -9
needs waits for it: run.json, the writer's state file and log()'s journal exist before init()
returns, and print() is copied from then on. finish() and `run.git` wait for it.

`Run` inherits these; they read the run's paths, settings, writer and console capture (all
set up by `Run._start_writer` on init()'s path), record the context with `_set_meta`, and
create the sampler.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from flightlog.store.threads import start_unwaited

from ._context import capture_git, gpu_info, write_requirements
from ._sysmetrics import Sampler

if TYPE_CHECKING:
    from ._run import Run


class RunBackground:
    """The background start of a run (see the module's docstring)."""

    def _start_background(self: Run) -> None:
        """init()'s last step: start the rest on a thread that init() does not wait for."""
        self._threads_started = threading.Event()
        self._context_done = threading.Event()
        start_unwaited(self._background)

    def _background(self: Run) -> None:
        """Both steps. A failure of either is said once and never keeps finish() waiting:
        both Events are set whatever happens."""
        assert self._threads_started is not None and self._context_done is not None
        self._background_ident = threading.get_ident()
        try:
            self._start_threads()
        finally:
            self._threads_started.set()
        try:
            self._capture_context()
        except Exception as e:  # (git, packages and GPUs each catch their own: a bug)
            self._warn_once_cb(f"could not record the run's git state and packages: {e!r}")
        finally:
            self._context_done.set()

    def _start_threads(self: Run) -> None:
        """The writer thread, the console copy's and the system sampler's, unless the run
        finished meanwhile. One that cannot start (out of threads or memory: RuntimeError,
        OSError, MemoryError) is said once: the writer's work is then done by finish().
        Nothing is said when the script has ended (Python 3.12 refuses threads then): the
        exit hook finishes the run, and the context is still captured (a process can start)."""
        assert self._paths is not None and self._writer is not None
        s = self.settings
        interval = 15.0 if s.stats_interval is None else float(s.stats_interval)
        try:
            if not self._finished:
                self._writer.start()
            if not self._finished and self._console is not None:
                self._console.start()
            if not self._finished and interval > 0:
                self._sampler = Sampler(
                    self._paths.dir,
                    self._writer_id,
                    self._writer_label,
                    interval,
                    self._warn_once_cb,
                    # sealed by age like history: shipped while training
                    self._writer.settings.segment_seconds,
                )
        except Exception as e:
            if isinstance(e, RuntimeError) and not threading.main_thread().is_alive():
                return  # the script ended (3.12 refuses threads then): nothing to say
            self._warn_once_cb(
                f"could not start a background thread ({e!r}): every row is still kept (in "
                "the journal, written at finish() at the latest); system metrics or the "
                "console copy may be missing"
            )

    def _capture_context(self: Run) -> None:
        """The slow part of the context, off init()'s path: git, packages, GPUs."""
        assert self._paths is not None
        if not self.settings.disable_git:
            info = capture_git(self._meta.get("cwd") or os.getcwd(), self._paths.files)
            if info is not None:
                self._set_meta("git", info)
        self._set_meta("packages", write_requirements(self._paths.files))
        gpus = gpu_info()
        if gpus is not None:
            self._set_meta("gpus", gpus)

    def _wait_context(self: Run, timeout: float) -> None:
        """Wait (up to `timeout` s for each) until the background start has started its
        threads and captured the context."""
        if self._background_ident == threading.get_ident():
            return
        for done in (self._threads_started, self._context_done):
            if done is not None:
                done.wait(timeout)
