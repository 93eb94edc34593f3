"""The background writer: one per process per run, the only code that writes a run's files.

`log()` in the training thread only appends `(step, time, row)` tuples to `RunWriter.rows`;
this thread turns them into one Arrow record batch every `flush_interval` and appends it to
the open segment, fsyncs at least every `fsync_interval`, rotates and seals segments in the
background, and rewrites the writer's state file (heartbeat + summary) and run.json when they
changed. A disk error never reaches the training thread: batches stay queued in memory
(bounded, oldest dropped and counted) and are retried on the next tick.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .atomic import atomic_write_json
from .layout import RunPaths, open_segment_name
from .schema import FLOAT, INT, encode_value, segment_schema
from .segments import OpenSegment, list_segments, seal

Row = tuple[int, float, dict[str, Any]]


@dataclass
class WriterSettings:
    flush_interval: float = 0.1
    fsync_interval: float = 1.0
    heartbeat_interval: float = 5.0
    segment_rows: int = 1_000_000
    max_buffered_rows: int = 4_000_000


def rows_to_batch(rows: list[Row], schema: pa.Schema) -> pa.RecordBatch:
    """Columnar tidy batch from committed rows (values are already normalised)."""
    counts = [len(r[2]) for r in rows]
    keys = [k for r in rows for k in r[2]]
    vals = [v for r in rows for v in r[2].values()]
    n = len(vals)
    steps = np.repeat(np.fromiter((r[0] for r in rows), np.int64, len(rows)), counts)
    times_us = np.repeat(
        (np.fromiter((r[1] for r in rows), np.float64, len(rows)) * 1e6).astype(np.int64), counts
    )
    types = set(map(type, vals))
    if types <= {float}:
        value = pa.array(vals, pa.float64())
        kind = pa.array(np.zeros(n, np.int8))
        text = pa.nulls(n, pa.string())
    elif types <= {float, int} and all(-(2**53) <= v <= 2**53 for v in vals if type(v) is int):
        value = pa.array(vals, pa.float64())
        kind = pa.array(np.fromiter((INT if type(v) is int else FLOAT for v in vals), np.int8, n))
        text = pa.nulls(n, pa.string())
    else:
        enc = [encode_value(v) for v in vals]
        value = pa.array([e[0] for e in enc], pa.float64())
        kind = pa.array(np.fromiter((e[1] for e in enc), np.int8, n))
        text = pa.array([e[2] for e in enc], pa.string())
    return pa.RecordBatch.from_arrays(
        [
            pa.array(steps),
            pa.array(times_us, pa.timestamp("us", tz="UTC")),
            pa.array(keys, pa.string()),
            value,
            kind,
            text,
        ],
        schema=schema,
    )


class RunWriter:
    """Persists one process's rows and state for one run, from a background thread."""

    def __init__(
        self,
        paths: RunPaths,
        writer_id: str,
        label: str,
        settings: WriterSettings,
        *,
        state: Callable[[], dict[str, Any]],
        meta: Callable[[], dict[str, Any] | None],
        warn: Callable[[str], None],
    ) -> None:
        self.paths = paths
        self.writer_id = writer_id
        self.settings = settings
        self.rows: list[Row] = []
        self._schema = segment_schema(writer_id, label)
        self._state = state
        self._meta = meta
        self._warn = warn
        self._queue: deque[pa.RecordBatch] = deque()
        self._queued_rows = 0
        self._segment: OpenSegment | None = None
        self._seq = 0
        self._sealers: list[threading.Thread] = []
        self._tick_lock = threading.RLock()  # the thread, flush() and a signal handler
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"flightlog-{writer_id}", daemon=True
        )
        self._last_fsync = time.monotonic()
        self._last_beat = 0.0
        self._unsynced = False
        self._failing: str | None = None
        self._dropped = 0
        self.rows_written = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def flush(self) -> None:
        """Write what is buffered now, from the calling thread (SIGTERM, finish)."""
        self._tick(force=True)

    def close(self) -> None:
        """Stop the thread, write everything, seal every segment of this writer."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()
        self._tick(force=True)
        self._close_segment(seal_it=True)
        for t in self._sealers:
            t.join()
        self._seal_leftovers()
        self._write_state()
        if self._queue:
            self._warn(
                f"{self._queued_rows:,} values could not be written to {self.paths.dir} and are "
                f"lost ({self._failing or 'disk error'})"
            )

    # -- the loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.flush_interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self._tick()
            except Exception as e:  # never let the writer thread die silently
                self._disk_problem(f"unexpected error in the writer thread: {e!r}")

    def _tick(self, force: bool = False) -> None:
        with self._tick_lock:
            self._tick_locked(force)

    def _tick_locked(self, force: bool) -> None:
        rows = self.rows[:]
        if rows:
            del self.rows[: len(rows)]
            batch = rows_to_batch(rows, self._schema)
            self._queue.append(batch)
            self._queued_rows += batch.num_rows
            self._bound_queue()
        self._write_queue()
        now = time.monotonic()
        if (
            self._unsynced
            and self._segment is not None
            and (force or now - self._last_fsync >= self.settings.fsync_interval)
        ):
            try:
                self._segment.fsync()
            except OSError as e:
                self._disk_problem(f"fsync of {self._segment.path} failed: {e.strerror or e}")
            self._last_fsync = now
            self._unsynced = False
        if self._segment is not None and self._segment.rows >= self.settings.segment_rows:
            self._close_segment(seal_it=True)
        meta = self._meta()
        if meta is not None:
            self._write_file(self.paths.meta, meta)
        if force or now - self._last_beat >= self.settings.heartbeat_interval:
            self._write_state()
            self._last_beat = now

    def _write_queue(self) -> None:
        while self._queue:
            batch = self._queue[0]
            try:
                if self._segment is None:
                    self._open_segment()
                assert self._segment is not None
                self._segment.write(batch)
            except OSError as e:
                where = self._segment.path if self._segment else self.paths.history
                self._disk_problem(f"cannot write {where}: {e.strerror or e}")
                self._abandon_segment()
                return
            self._queue.popleft()
            self._queued_rows -= batch.num_rows
            self.rows_written += batch.num_rows
            self._unsynced = True
        if self._failing is not None:
            lost = f"; {self._dropped} rows were dropped while it failed" if self._dropped else ""
            self._warn(f"writing to {self.paths.dir} works again{lost}")
            self._failing = None

    def _bound_queue(self) -> None:
        while self._queued_rows > self.settings.max_buffered_rows and len(self._queue) > 1:
            dropped = self._queue.popleft()
            self._queued_rows -= dropped.num_rows
            self._dropped += dropped.num_rows

    def _disk_problem(self, message: str) -> None:
        if self._failing is None:
            self._failing = message
            self._warn(
                f"{message}. Training continues; flightlog keeps up to "
                f"{self.settings.max_buffered_rows:,} values in memory and retries."
            )

    # -- segments --------------------------------------------------------------------------
    def _open_segment(self) -> None:
        self.paths.history.mkdir(parents=True, exist_ok=True)
        while True:
            self._seq += 1
            path = self.paths.history / open_segment_name(self.writer_id, self._seq)
            try:
                self._segment = OpenSegment(path, self._schema)
                return
            except FileExistsError:
                continue

    def _abandon_segment(self) -> None:
        """After a write error the stream may be torn: stop using it (it is sealed later,
        or removed if no batch ever reached it, so a long outage leaves no empty files)."""
        seg = self._segment
        if seg is None:
            return
        self._segment = None
        try:
            seg.close()
        except OSError:
            pass
        if seg.rows == 0:
            seg.path.unlink(missing_ok=True)

    def _close_segment(self, seal_it: bool) -> None:
        seg = self._segment
        if seg is None:
            return
        self._segment = None
        try:
            seg.fsync()
            seg.close()
        except OSError as e:
            self._disk_problem(f"cannot close {seg.path}: {e.strerror or e}")
            return
        if seal_it:
            t = threading.Thread(target=self._seal_quietly, args=(seg.path,), daemon=True)
            t.start()
            self._sealers.append(t)

    def _seal_quietly(self, path: Path) -> None:
        try:
            seal(path)
        except OSError as e:
            self._disk_problem(f"cannot seal {path}: {e.strerror or e}")

    def _seal_leftovers(self) -> None:
        """Seal this writer's segments left open by earlier disk errors."""
        for name, path in list_segments(self.paths.history):
            if name.writer == self.writer_id and not name.sealed:
                self._seal_quietly(path)

    # -- small files -----------------------------------------------------------------------
    def _write_state(self) -> None:
        self._write_file(self.paths.writer_state(self.writer_id), self._state())

    def _write_file(self, path: Path, obj: dict[str, Any]) -> None:
        try:
            atomic_write_json(path, obj)
        except OSError as e:
            self._disk_problem(f"cannot write {path}: {e.strerror or e}")


def seal_dead_writer_segments(paths: RunPaths, live_writers: set[str]) -> int:
    """Seal the open segments of writers that are no longer alive (recovery). Returns count."""
    n = 0
    for name, path in list_segments(paths.history):
        if not name.sealed and name.writer not in live_writers:
            seal(path)
            n += 1
    return n


def new_writer_id() -> str:
    """Unique, lowercase, roughly time-ordered: 9 base-36 digits of ms time + 5 random."""
    ms = int(time.time() * 1000)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while ms:
        ms, r = divmod(ms, 36)
        out = digits[r] + out
    return out + "".join(secrets.choice(digits) for _ in range(5))
