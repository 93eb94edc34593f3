"""How a run reaches its writer thread: `Run._start_writer` creates the writer (and the media
sink, the console copy) on init()'s path, and `_writer_state` is what the writer thread writes
into the run's state file at every heartbeat.

These are together because they are the run's side of one contract with
`flightlog.store.RunWriter`: the settings it is given, and the callbacks it calls from its own
thread (`_writer_state`, `Run._meta_if_dirty`, `Run._warn_once_cb`), each under the run's lock.
`Run` inherits them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flightlog.store import RunWriter, WriterSettings
from flightlog.store.atomic import atomic_write_json
from flightlog.store.liveness import FAILED, FINISHED, HOSTNAME, RUNNING, process_start_ticks

from . import _hooks
from ._console import DEFAULT_MAX_BYTES as CONSOLE_MAX_BYTES
from ._console import ConsoleCapture
from .media._sink import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES, MediaSink

if TYPE_CHECKING:
    from ._run import Run

#: in online mode a segment is also sealed at this age, so a training run reaches the server
#: as it goes (FLIGHTLOG_SEGMENT_SECONDS or settings segment_seconds change it)
ONLINE_SEGMENT_SECONDS = 60.0


class RunWriterLink:
    """The run's side of its writer (see the module's docstring)."""

    def _start_writer(self: Run, writer_id: str, *, create: bool = False) -> None:
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
        if s.console == "wrap" and not _hooks.console_taken():  # print() is copied from now on
            self._console = _hooks.take_console(
                ConsoleCapture(
                    self._paths.files / "output.log",
                    int(s.console_max_bytes or CONSOLE_MAX_BYTES),
                    self._warn_once_cb,
                )
            )
        _hooks.register(self)

    def _writer_state(self: Run) -> dict[str, Any]:
        now = time.time()
        beat = self._writer.settings.heartbeat_interval if self._writer else None
        with self._lock:
            state = RUNNING if not self._finished else (FAILED if self._error else FINISHED)
            summary = self._summary_dict()
            out = {
                "writer": self._writer_id,
                "label": self._writer_label,
                "host": HOSTNAME,
                "pid": self._pid,
                "pid_start": process_start_ticks(self._pid),
                "generation": self._generation,
                "started_at": self._started,
                "heartbeat_at": now,
                "heartbeat_every": beat,
                "finished_at": now if self._finished else None,
                "state": state,
                "error": self._error,
                "step": self._last_step,
                "rows": self._writer.rows_written if self._writer else 0,
                "summary": summary,
                # what a reader needs to catch a killed writer's summary up with its last
                # rows (store/summary_tail.py): the means' sums and counts, keys set by hand
                "summary_means": self._aggs.sums(),
                "summary_set": sorted(self._overrides),
            }
            # a resumed run's keys this process only carried from the earlier job's: a
            # reader lets another rank's logged value win over them (store/summary_merge.py)
            if carried := self._summary_carried(summary):
                out["summary_carried"] = carried
            return out
