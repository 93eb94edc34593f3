"""`Run`: what `init()` returns. The training thread's side of a run.

This module holds the run's state and identity; its members are grouped by concern in the
mixins it inherits, each a module of its own: logging (`_run_log`), the summary and run.json
(`_run_meta`), the writer link (`_run_writer`), finishing (`_run_finish`), the background
start (`_run_background`) and wandb's other members (`_run_compat`, `_run_artifacts`).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from typing import Any

from flightlog.store import RunPaths, RunWriter

from ._config import Config
from ._console import ConsoleCapture
from ._files import FileSaver
from ._run_background import RunBackground
from ._run_compat import RunCompat
from ._run_finish import RunFinish, say
from ._run_log import RunLog
from ._run_meta import RunMeta
from ._run_writer import RunWriterLink
from ._settings import Settings
from ._shapes import Shapes
from ._summary import Aggregates, MetricDef, Past, Summary
from ._sysmetrics import Sampler
from ._validate import check_setting
from .media._sink import MediaSink


class Run(RunLog, RunMeta, RunWriterLink, RunFinish, RunCompat, RunBackground):
    """A run being recorded by this process (or a do-nothing run when mode="disabled")."""

    def __init__(
        self,
        settings: Settings,
        meta: dict[str, Any],
        paths: RunPaths | None,
        *,
        first_step: int = 0,
        generation: int = 0,
        base_summary: dict[str, Any] | None = None,
        past: dict[str, Past] | None = None,
    ) -> None:
        self.settings = settings
        self._meta = meta
        self._paths = paths
        self._lock = threading.RLock()
        self._meta_dirty = False
        self._step = first_step  # the step the next committed row gets
        self._last_step = first_step - 1  # the last committed row's step
        self._pending: dict[str, Any] = {}
        self._last: dict[str, Any] = {}  # each key's latest value this process logged
        #: a resumed run's summary before this process (its keys' last stored values)
        self._stored: dict[str, Any] = dict(base_summary or {})
        self._overrides: dict[str, Any] = {}
        self._aggs = Aggregates(past)  # a resumed run's: from its earlier rows
        self._last_time: float | None = None
        self._finished = False  # no more rows: log() drops them (counted)
        self._closed = False  # everything written and sealed
        self._dropped_after_finish = 0
        self.terminated = False  # finished for a signal: later log() calls drop quietly
        self._error: str | None = None
        self._warned: set[str] = set()
        self._pid = os.getpid()
        self._generation = generation
        self._started = time.time()
        self.config = Config(on_change=self._config_changed)
        self.config._data.update(meta.get("config") or {})
        self._meta_changed: set[str] = set()  # run.json keys this process changed
        #: what this process appended to run.json's lists since it last wrote (merged)
        self._appended: dict[str, list[Any]] = {}
        self._config_written = dict(meta.get("config") or {})  # as of our last write
        self.summary = Summary(self)
        for d in meta.get("metrics") or []:
            self._aggs.define(MetricDef(**d), {})  # the resume: past figures
        self._writer: RunWriter | None = None
        self._media: MediaSink | None = None
        self._shapes = Shapes()
        self._sampler: Sampler | None = None
        self._console: ConsoleCapture | None = None
        self._saver: FileSaver | None = None
        self._live = False  # True while this process records the run
        #: set by the background start (`_start_background`): its threads are started, and
        #: then the context (git, packages, GPUs) is captured
        self._threads_started: threading.Event | None = None
        self._context_done: threading.Event | None = None
        self._background_ident: int | None = None

    # -- identity --------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._meta["id"]

    @property
    def name(self) -> str:
        return self._meta["name"]

    @name.setter
    def name(self, value: str) -> None:
        self._set_meta("name", check_setting("name", value, "run.name"))

    @property
    def notes(self) -> str | None:
        return self._meta.get("notes")

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._set_meta(
            "notes", None if value is None else check_setting("notes", value, "run.notes")
        )

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self._meta.get("tags") or ())

    @tags.setter
    def tags(self, value: Any) -> None:
        self._set_meta("tags", list(check_setting("tags", value, "run.tags")))

    project = property(lambda self: self._meta["project"])
    entity = property(lambda self: self._meta.get("entity"))
    group = property(lambda self: self._meta.get("group"))
    job_type = property(lambda self: self._meta.get("job_type"))
    start_time = property(lambda self: self._meta["created_at"])

    @property
    def dir(self) -> str | None:
        """The run's directory in the store (None for a disabled run)."""
        return str(self._paths.dir) if self._paths else None

    @property
    def path(self) -> str:
        return f"{self.project}/{self.id}"

    @property
    def step(self) -> int:
        """The step the next committed row will get."""
        return self._step

    @property
    def offline(self) -> bool:
        return True

    @property
    def disabled(self) -> bool:
        return self._paths is None

    @property
    def git(self) -> dict[str, Any]:
        self._wait_context(5.0)
        return dict(self._meta.get("git") or {})

    def __repr__(self) -> str:
        return f"<flightlog.Run {self.name} ({self.id}) {self.project}>"

    # -- warnings --------------------------------------------------------------------------
    def _warn_once(self, topic: str, message: str, depth: int = 0) -> None:
        """Warn about `topic` once, at the user's line: `depth` is the number of flightlog
        frames between the public method the user called and this call."""
        if topic not in self._warned:
            self._warned.add(topic)
            warnings.warn(f"flightlog: {message}", RuntimeWarning, stacklevel=3 + depth)

    def _warn_once_cb(self, message: str) -> None:
        # from the writer thread: print, since warnings filters may hide it
        say(message, None)
