"""`Run`: what `init()` returns. The training thread's side of a run.

`log()` validates, merges into the pending row and, on commit, appends the row to the
writer's C-array buffer; everything that touches disk happens in `flightlog.store.RunWriter`'s
thread.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
import warnings
from types import TracebackType
from typing import Any

from flightlog.store import RunPaths, RunWriter, WriterSettings
from flightlog.store.atomic import atomic_write_json
from flightlog.store.liveness import FAILED, FINISHED, HOSTNAME, RUNNING, process_start_ticks
from flightlog.store.rows import Signature, signature
from flightlog.store.runmeta import MetaPatch
from flightlog.store.text import fmt

from . import _hooks
from ._config import Config
from ._console import DEFAULT_MAX_BYTES as CONSOLE_MAX_BYTES
from ._console import ConsoleCapture
from ._files import FileSaver
from ._run_background import RunBackground
from ._run_compat import RunCompat
from ._settings import Settings
from ._shapes import Shapes
from ._summary import Aggregates, MetricDef, Summary, parse_metric
from ._sysmetrics import Sampler
from ._validate import MAX_STEP, check_setting
from ._validate import check_step as _as_step
from ._values import normalize, to_scalar
from .media._sink import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES, MediaSink

#: in online mode a segment is also sealed at this age, so a training run reaches the server
#: as it goes (FLIGHTLOG_SEGMENT_SECONDS or settings segment_seconds change it)
ONLINE_SEGMENT_SECONDS = 60.0


def say(message: str, settings: Settings | None = None) -> None:
    """One line on stderr, prefixed like wandb's, unless FLIGHTLOG_SILENT is set."""
    if settings is None or not settings.silent:
        print(f"flightlog: {message}", file=sys.stderr, flush=True)


class Run(RunCompat, RunBackground):
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
    ) -> None:
        self.settings = settings
        self._meta = meta
        self._paths = paths
        self._lock = threading.RLock()
        self._meta_dirty = False
        self._step = first_step  # the step the next committed row gets
        self._last_step = first_step - 1  # the last committed row's step
        self._pending: dict[str, Any] = {}
        self._last: dict[str, Any] = dict(base_summary or {})
        self._overrides: dict[str, Any] = {}
        self._aggs = Aggregates()
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
        self._config_written = dict(meta.get("config") or {})  # as of our last write
        self.summary = Summary(self)
        for d in meta.get("metrics") or []:
            self._aggs.define(MetricDef(**d))
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

    # -- starting --------------------------------------------------------------------------
    def _start_writer(self, writer_id: str, *, create: bool = False) -> None:
        """Create the background writer and announce this process in the run's files
        (`create`: and write the new run's run.json)."""
        assert self._paths is not None
        s = self.settings
        ws = WriterSettings()
        for f in (
            "flush_interval",
            "fsync_interval",
            "heartbeat_interval",
            "segment_rows",
            "max_buffered_rows",
        ):
            if getattr(s, f) is not None:
                setattr(ws, f, type(getattr(ws, f))(getattr(s, f)))
        ws.segment_seconds = s.segment_seconds
        if ws.segment_seconds is None and s.mode == "online":
            ws.segment_seconds = ONLINE_SEGMENT_SECONDS
        self._writer_id = writer_id
        self._writer_label = s.label or f"{HOSTNAME}:{self._pid}"
        self._writer = RunWriter(
            self._paths,
            writer_id,
            self._writer_label,
            ws,
            lock=self._lock,
            state=self._writer_state,
            meta=self._meta_if_dirty,
            warn=self._warn_once_cb,
        )
        self._media = MediaSink(
            self._paths.dir,
            self._warn_once_cb,
            int(s.media_max_bytes if s.media_max_bytes is not None else DEFAULT_MAX_BYTES),
            int(s.media_max_files if s.media_max_files is not None else DEFAULT_MAX_FILES),
        )
        self._writer.sync_hooks.append(self._media.sync)
        self._live = True
        self._paths.writers.mkdir(parents=True, exist_ok=True)
        self._writer.write_state(durable=False)  # the first heartbeat (1 s) fsyncs it
        if create:  # after the state file: a process joining (shared) finds this one live
            atomic_write_json(self._paths.meta, self._meta, durable=False)
        self._segment_seconds = ws.segment_seconds
        if s.console == "wrap" and not _hooks.console_taken():  # print() is copied from now on
            self._console = _hooks.take_console(
                ConsoleCapture(
                    self._paths.files / "output.log", int(s.console_max_bytes or CONSOLE_MAX_BYTES)
                )
            )
        _hooks.register(self)

    # -- logging ---------------------------------------------------------------------------
    def log(
        self, data: dict[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        """Record `data` for `step` (wandb semantics; see README "log() semantics")."""
        if not self._live:
            self._log_after_finish()
            return
        row, sig, sid = self._normalize(data)
        with self._lock:
            if not self._live:  # finished meanwhile (SIGTERM's helper thread, another thread)
                self._log_after_finish()
                return
            if step is not None:
                if type(step) is not int or not 0 <= step <= MAX_STEP:
                    step = _as_step(step)
                if step > self._step:
                    if self._pending:
                        self._commit()
                    self._step = step
                elif step < self._step:
                    self._warn_once(
                        "step",
                        f"log() got step {step} but the run is at step {self._step}; steps must "
                        "not decrease, so that row is dropped (warned once)",
                    )
                    return
                self._pending.update(row)
                if commit:
                    self._commit()
            elif commit is not False and not self._pending:
                self._commit(row, sig, sid)  # the common case: one dict, one row
            else:
                self._pending.update(row)
                if commit is not False:
                    self._commit()

    def _normalize(self, data: Any) -> tuple[dict[str, Any], Signature, int | None]:
        """`normalize`, skipped for rows of a signature or a shape (nested dicts, numpy
        scalars: flightlog/_shapes.py) seen before."""
        known = self._writer.signatures.ids  # type: ignore[union-attr]
        if type(data) is not dict:
            return normalize(data, known, self._media)
        shape = signature(data)
        sid = known.get(shape)
        if sid is not None:
            return data, shape, sid
        flat = self._shapes.flatten(shape, data)
        if flat is not None:
            return flat[0], flat[1], known.get(flat[1])
        row, sig, sid = normalize(data, known, self._media)
        self._shapes.learn(shape, data, row)
        return row, sig, sid

    def _log_after_finish(self) -> None:
        """A row for a finished run is not recorded: counted, and said once unless the run
        was finished for a signal (the process is ending; see _hooks.terminate)."""
        if not self._finished:
            return  # a disabled run
        self._dropped_after_finish += 1
        if not self.terminated:
            self._warn_once(
                "finished",
                f"run {self.id} is finished; log() is ignored. "
                "Start another run with flightlog.init()",
            )

    def _commit(
        self,
        row: dict[str, Any] | None = None,
        sig: Signature | None = None,
        sid: int | None = None,
    ) -> None:
        """Hand one row to the writer (under the lock); without arguments, the pending row.

        An exception may land between any two bytecodes here (Ctrl-C inside log()). The step
        is taken first, so an interrupted commit leaves a gap in the steps, never a repeated
        one; `writer.append` keeps the row whole or not at all; the summary follows the row
        only once it is kept, so it never shows a value the history lacks."""
        writer = self._writer
        pending = row is None
        if row is None:
            row = self._pending
            if not row or writer is None:
                return
            sig = signature(row)
            sid = writer.signatures.ids.get(sig)
        assert writer is not None
        if sid is None:
            sid = writer.signatures.register(sig)  # type: ignore[arg-type]
        step = self._step
        t = time.time()
        self._step = step + 1
        writer.append(step, t, row, sid)
        if pending:
            self._pending = {}
        self._last.update(row)
        if self._aggs.defs:
            self._aggs.fold(row)
        self._last_time = t
        self._last_step = step

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        summary: str | None = None,
        goal: str | None = None,
        hidden: bool = False,
        **_ignored: Any,
    ) -> MetricDef:
        """Choose how `name` (or a glob like "val/*") is summarised and what its x-axis is."""
        d = parse_metric(name, summary, step_metric, goal, hidden)
        with self._lock:
            self._aggs.define(d)
            self._set_meta("metrics", [x.as_json() for x in self._aggs.defs])
        return d

    # -- summary ---------------------------------------------------------------------------
    def _summary_dict(self) -> dict[str, Any]:
        with self._lock:
            out = {}
            for k, v in self._last.items():
                rule = self._aggs.rule(k) if self._aggs.defs else "last"
                if rule == "none":
                    continue
                if rule != "last":
                    if k not in self._aggs.values:
                        continue
                    v = self._aggs.values[k]
                out[k] = v
            if self._last_time is not None:
                out["_step"] = self._last_step
                out["_timestamp"] = self._last_time
                out["_runtime"] = self._last_time - self.start_time
            out.update(self._overrides)
            return out

    def _set_summary(self, data: dict[str, Any]) -> None:
        clean = {k: to_scalar(k, v) for k, v in data.items()}
        with self._lock:
            self._overrides.update(clean)

    def _del_summary(self, key: str) -> None:
        with self._lock:
            found = self._overrides.pop(key, None) is not None
            found = self._last.pop(key, None) is not None or found
        if not found:
            raise KeyError(key)

    # -- metadata --------------------------------------------------------------------------
    def _set_meta(self, key: str, value: Any) -> None:
        with self._lock:
            self._meta[key] = value
            self._meta_changed.add(key)
            self._meta_dirty = True

    def _join_changes(self, stored: dict[str, Any]) -> None:
        """Joining or resuming a stored run: what init() changed in it is this process's
        change to merge into run.json (other processes may be writing it too)."""
        with self._lock:
            self._meta_changed.update(k for k, v in self._meta.items() if stored.get(k) != v)
            self._config_written = dict(stored.get("config") or {})
            self._meta_dirty = True

    def _config_changed(self) -> None:
        self._set_meta("config", self.config.as_dict())

    def _meta_if_dirty(self) -> MetaPatch | None:
        """What this process changed in run.json since it last wrote it (the writer thread
        merges it into the file: other processes of a shared run change it too)."""
        with self._lock:
            if not self._meta_dirty:
                return None
            self._meta_dirty = False
            fields = {k: self._meta[k] for k in self._meta_changed if k != "config"}
            self._meta_changed.clear()
            config, base = self.config.as_dict(), self._config_written
            self._config_written = dict(config)
            return MetaPatch(
                fields,
                {k: v for k, v in config.items() if k not in base or base[k] != v},
                set(base) - set(config),
                fallback=dict(self._meta),
            )

    def _writer_state(self) -> dict[str, Any]:
        now = time.time()
        with self._lock:
            state = RUNNING if not self._finished else (FAILED if self._error else FINISHED)
            return {
                "writer": self._writer_id,
                "label": self._writer_label,
                "host": HOSTNAME,
                "pid": self._pid,
                "pid_start": process_start_ticks(self._pid),
                "generation": self._generation,
                "started_at": self._started,
                "heartbeat_at": now,
                "finished_at": now if self._finished else None,
                "state": state,
                "error": self._error,
                "step": self._last_step,
                "rows": self._writer.rows_written if self._writer else 0,
                "summary": self._summary_dict(),
            }

    def save(
        self, glob_str: str | None = None, base_path: str | None = None, policy: str = "live"
    ) -> list[str]:
        """Without arguments, persist the run's metadata now (after `run.name = ...`).

        With a glob, keep copies of the matching files with the run (see flightlog._files):
        policy "now", "end" (at finish) or "live" (now and whenever they change)."""
        if glob_str is not None:
            if self._paths is None:
                return []  # a disabled run keeps nothing
            if self._saver is None:
                self._saver = FileSaver(self._paths.files, self._file_saved, self._warn_once_cb)
            return self._saver.save(str(glob_str), base_path, policy)
        if self._writer is not None and os.getpid() == self._pid:
            with self._lock:
                self._meta_dirty = True
            self._writer.flush()
        return []

    def _file_saved(self, name: str, sha256: str) -> None:
        with self._lock:
            saved = dict(self._meta.get("saved_files") or {})
            saved[name] = sha256
            self._set_meta("saved_files", saved)

    # -- finishing -------------------------------------------------------------------------
    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Commit the pending row, write and seal everything, mark the run finished/failed."""
        if exit_code and self._error is None:
            self._error = f"exit code {exit_code}"
        self._finish(quiet=bool(quiet))

    def _finish(self, quiet: bool = False) -> None:
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
            self._writer.close()
        self._closed = True
        _hooks.unregister(self)
        if self._writer is not None and not quiet:
            say(self._finish_line(), self.settings)

    def _finish_line(self) -> str:
        took = time.time() - self._started
        steps = self._step
        summ = self._summary_dict()
        shown = [f"{k} {fmt(v)}" for k, v in summ.items() if not k.startswith("_")][:4]
        state = "failed" if self._error else "finished"
        tail = f" · {', '.join(shown)}" if shown else ""
        noun = "step" if steps == 1 else "steps"
        return f"{state} {self.name} ({self.id}): {steps} {noun} in {took:.1f}s{tail}"

    def _fail(self, error: str) -> None:
        """Mark the run failed with `error` (a traceback) and finish it."""
        with self._lock:
            if self._error is None:
                self._error = error
        self._finish()

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc_type is None:
            self._finish()
        else:
            self._fail("".join(traceback.format_exception(exc_type, exc, tb)))
        return False

    # -- warnings --------------------------------------------------------------------------
    def _warn_once(self, topic: str, message: str) -> None:
        if topic not in self._warned:
            self._warned.add(topic)
            warnings.warn(f"flightlog: {message}", RuntimeWarning, stacklevel=3)

    def _warn_once_cb(self, message: str) -> None:
        # from the writer thread: print, since warnings filters may hide it
        say(message, None)
