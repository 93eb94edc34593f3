"""The background writer: one per process per run, the only code that writes a run's files.

`log()` in the training thread only appends to the newest `RowBuffer` of the writer's queue
(see store/rows.py); every `flush_interval` this thread closes that buffer (a new one takes
its place), converts it into Arrow record batches and appends them to the open segment,
fsyncs at least every `fsync_interval`, rotates and seals segments in the background, and
rewrites the writer's state file (heartbeat + summary) and run.json when they changed. A disk
error never reaches the training thread: buffers stay queued in memory (bounded, oldest
dropped and counted) and are retried on the next tick.

The queue is safe against asynchronous exceptions in the training thread (Ctrl-C inside
log()): closing a buffer is one `deque.append`, and a buffer's batches appear in one
attribute store. A conversion that log() started and a KeyboardInterrupt cut short leaves an
unconverted buffer in its place in the queue, which this thread converts on its next tick.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from .atomic import atomic_write_json
from .layout import RunPaths, open_segment_name
from .rows import RowBuffer, SignatureTable, rows_to_batches
from .runmeta import MetaPatch, apply_patch
from .schema import segment_schema
from .segments import OpenSegment, list_segments, seal
from .takeover import HeldSegment, warn_taken
from .threads import start_thread


def release_arrow_memory() -> None:
    """Arrow's allocator (mimalloc) keeps freed pages resident, per thread; hand them back so
    a long run's memory stays flat (costs ~1 µs)."""
    pa.default_memory_pool().release_unused()


@dataclass
class WriterSettings:
    flush_interval: float = 0.1
    fsync_interval: float = 1.0
    heartbeat_interval: float = 1.0
    segment_rows: int = 500_000
    #: also seal a segment this old (online mode: a training run reaches the server in
    #: pieces instead of at the end); None seals by size only
    segment_seconds: float | None = None
    max_buffered_rows: int = 4_000_000


#: rows buffered before log() converts them itself (see RunWriter.append)
INLINE_DRAIN_ROWS = 8192

#: seconds flush() waits for the writer thread before it lets the script go on
FLUSH_WAIT = 10.0


class RunWriter:
    """Persists one process's rows and state for one run, from a background thread."""

    def __init__(
        self,
        paths: RunPaths,
        writer_id: str,
        label: str,
        settings: WriterSettings,
        *,
        lock: threading.RLock,
        state: Callable[[], dict[str, Any]],
        meta: Callable[[], MetaPatch | None],
        warn: Callable[[str], None],
    ) -> None:
        self.paths = paths
        self.writer_id = writer_id
        self.settings = settings
        #: the newest buffer takes log()'s rows (under `lock`); older ones wait, in order, to
        #: be converted and written
        self._bufs: deque[RowBuffer] = deque([RowBuffer()])
        self.signatures = SignatureTable()
        self._lock = lock
        self._schema = segment_schema(writer_id, label)
        self._state = state
        self._meta = meta
        self._warn = warn
        self._segment: HeldSegment | None = None
        #: batches a sealer took our segment before proving it had (store/takeover.py): they
        #: go into the next segment before anything else
        self._carry: deque[pa.RecordBatch] = deque()
        self._seq = 0
        self._to_seal: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._sealer: threading.Thread | None = None
        self._tick_lock = threading.RLock()  # the thread, flush() and a signal handler
        self._stop = threading.Event()
        self._closed = False
        self._flush_waiters: deque[threading.Event] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_fsync = time.monotonic()
        self._last_beat = 0.0
        self._unsynced = False
        self._failing: str | None = None
        self._dropped = 0
        self.rows_written = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = start_thread(self._loop, f"flightlog-{self.writer_id}")

    def flush(self, inline: bool = False) -> None:
        """Write what is buffered now (run.save(), a script's SIGTERM handler).

        The writer thread does it and this waits (up to FLUSH_WAIT s: a hung disk must not
        hang the script); `inline` does it in the calling thread, for a signal handler that
        may have interrupted log() while it held the lock the writer thread needs."""
        t = self._thread
        if inline or t is None or not t.is_alive() or threading.current_thread() is t:
            self._tick(force=True)
            return
        done = threading.Event()
        self._flush_waiters.append(done)
        self._wake.set()
        done.wait(FLUSH_WAIT)

    def close(self) -> None:
        """Stop the thread, write everything, seal every segment of this writer.

        The writer thread does the work and the caller waits for it, so a KeyboardInterrupt
        (or what a script's own signal handler raises) can only cut the wait short, never the
        work; a later close() waits again. A disk or format error is warned about, never
        raised: this runs at exit and in signal handlers of someone's training script."""
        self._stop.set()
        self._wake.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join()
        if not self._closed:  # no thread ran the last steps (never started, or this is it)
            self._close_quietly()

    def _close_quietly(self) -> None:
        try:
            self._close()
        except (OSError, ValueError, pa.ArrowException) as e:
            self._warn(f"could not finish writing {self.paths.dir}: {e!r}")

    def _close(self) -> None:
        self._tick(force=True)
        self._close_segment(seal_it=True)
        if self._sealer is not None:
            self._to_seal.put(None)
            self._sealer.join()
        self._seal_leftovers()
        self.write_state()
        self._closed = True
        left = self._queued_values()
        if left > 0:
            self._warn(
                f"{left:,} values could not be written to {self.paths.dir} and are "
                f"lost ({self._failing or 'disk error'})"
            )

    def append(self, step: int, t: float, row: dict[str, Any], sid: int) -> None:
        """Buffer one committed row (training thread, under `lock`): no I/O, no Arrow.

        `sid` is the row's signature id from `signatures` (registered under `lock`)."""
        buf = self._bufs[-1]
        if self.signatures.fast_ok(sid, row):
            buf.add_fast(step, t, sid, row.values())
        else:
            buf.add_mixed(step, t, dict(row))  # the caller may reuse its dict
        if buf.rows >= INLINE_DRAIN_ROWS:
            # A fast loop starves the writer thread of the GIL (each Arrow call it makes costs
            # a 5 ms switch interval to get the GIL back), so the backlog is converted here,
            # in one go: pure CPU, ~0.2 µs a row amortised, and memory stays bounded.
            self._convert_inline()

    # -- the loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.flush_interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            waiters = len(self._flush_waiters)
            try:
                self._tick(force=waiters > 0)
            except Exception as e:  # never let the writer thread die silently
                self._disk_problem(f"unexpected error in the writer thread: {e!r}")
            for _ in range(waiters):
                self._flush_waiters.popleft().set()
        self._close_quietly()
        while self._flush_waiters:
            self._flush_waiters.popleft().set()

    def _tick(self, force: bool = False) -> None:
        with self._tick_lock:
            self._tick_locked(force)

    def _close_active(self) -> RowBuffer | None:
        """Queue log()'s buffer and give it a fresh one (under `lock`): one deque.append."""
        buf = self._bufs[-1]
        if not buf:
            return None
        self._bufs.append(RowBuffer())
        return buf

    def _convert_inline(self) -> None:
        """log() past INLINE_DRAIN_ROWS: convert its buffer itself, holding the lock (the
        writer thread waits; log() is the one working). Cut short by an exception, the
        buffer stays queued unconverted and the writer thread converts it."""
        with self._lock:
            buf = self._close_active()
            if buf is None:
                return
            # nothing caught here: what interrupts the conversion leaves `buf` to the thread
            table = self.signatures.snapshot()
            buf.batches = deque(rows_to_batches(buf, table, self._schema))  # one store
        release_arrow_memory()  # mimalloc heaps are per thread: each thread frees its own

    def _convert(self) -> None:
        """Close log()'s buffer and convert every queued buffer not converted yet.

        The writer thread converts outside the lock (log() keeps appending meanwhile),
        claiming the buffers first; no signal ever interrupts it. Another thread (a signal
        handler's flush) converts holding the lock, like log() does, and claims nothing, so
        an interruption there leaves nothing half-claimed."""
        with self._lock:
            self._close_active()
            todo = [b for b in list(self._bufs)[:-1] if b.batches is None and not b.claimed]
            table = self.signatures.snapshot()
            if threading.current_thread() is not self._thread:
                for b in todo:
                    b.batches = deque(rows_to_batches(b, table, self._schema))
                return
            for b in todo:
                b.claimed = True
        for buf in todo:
            batches = self._batches(buf, table)
            with self._lock:
                buf.batches = batches
        if todo:
            release_arrow_memory()

    def _batches(self, buf: RowBuffer, table: tuple[Any, ...]) -> deque[pa.RecordBatch]:
        """The writer thread's conversion, which must not die of a bad buffer."""
        try:
            return deque(rows_to_batches(buf, table, self._schema))
        except Exception as e:  # never expected: values are normalised by log()
            self._disk_problem(f"could not convert {buf.rows} rows: {e!r}")
            return deque()

    def _tick_locked(self, force: bool) -> None:
        self._convert()
        wrote = self._write_queue()
        if self._failing is not None:
            self._bound_queue()
        now = time.monotonic()
        if (
            self._unsynced
            and self._segment is not None
            and (force or now - self._last_fsync >= self.settings.fsync_interval)
        ):
            try:
                if not self._segment.fsync():
                    self._segment_taken()
            except OSError as e:
                self._disk_problem(f"fsync of {self._segment.path} failed: {e.strerror or e}")
            self._last_fsync = now
            self._unsynced = False
        if self._segment is not None and self._segment_full(now):
            self._close_segment(seal_it=True)
        if wrote:
            release_arrow_memory()
        patch = self._meta()
        if patch:
            try:
                apply_patch(self.paths.meta, patch)
            except OSError as e:
                self._disk_problem(f"cannot write {self.paths.meta}: {e.strerror or e}")
        if force or now - self._last_beat >= self.settings.heartbeat_interval:
            self.write_state()
            self._last_beat = now

    def _next_batch(self) -> tuple[pa.RecordBatch, RowBuffer | None] | None:
        """The next batch to write, and the buffer it comes from (None: from `_carry`)."""
        if self._carry:
            return self._carry[0], None
        with self._lock:  # log() may queue buffers concurrently
            while len(self._bufs) >= 2:
                buf = self._bufs[0]
                if buf.batches is None:
                    return None  # the next rows in order are not converted yet
                if buf.batches:
                    return buf.batches[0], buf
                self._bufs.popleft()
        return None

    def _write_queue(self) -> bool:
        """Write every converted batch, in order; returns whether anything was written."""
        wrote = False
        while (todo := self._next_batch()) is not None:
            batch, buf = todo
            try:
                if self._segment is None:
                    self._open_segment()
                assert self._segment is not None
                self._segment.write(batch)
            except OSError as e:
                where = self._segment.path if self._segment else self.paths.history
                self._disk_problem(f"cannot write {where}: {e.strerror or e}")
                self._abandon_segment()
                return wrote  # the batch stays first in the queue: retried on the next tick
            if buf is None:
                self._carry.popleft()
            else:
                with self._lock:
                    buf.batches.popleft()
                self.rows_written += batch.num_rows
            wrote = True
            self._unsynced = True
        if wrote and self._segment is not None and not self._segment.check():
            self._segment_taken()  # one stat a flush: is the segment still ours?
        if self._failing is not None:
            lost = f"; {self._dropped} rows were dropped while it failed" if self._dropped else ""
            self._warn(f"writing to {self.paths.dir} works again{lost}")
            self._failing = None
        return wrote

    def _queued_values(self) -> int:
        """Values waiting in the queue (log()'s buffer included)."""
        with self._lock:
            queued = sum(buf.value_count() for buf in self._bufs)
        return queued + sum(b.num_rows for b in self._carry)

    def _bound_queue(self) -> None:
        """While writes fail, drop the oldest converted buffers past max_buffered_rows."""
        with self._lock:
            excess = self._queued_values() - self.settings.max_buffered_rows
            while excess > 0 and len(self._bufs) > 2 and self._bufs[0].batches is not None:
                n = self._bufs.popleft().value_count()
                self._dropped += n
                excess -= n

    def _disk_problem(self, message: str) -> None:
        if self._failing is None:
            self._failing = message
            self._warn(
                f"{message}. Training continues; flightlog keeps up to "
                f"{self.settings.max_buffered_rows:,} values in memory and retries."
            )

    # -- segments --------------------------------------------------------------------------
    def _segment_full(self, now: float) -> bool:
        assert self._segment is not None
        seg = self._segment.segment
        if seg.rows >= self.settings.segment_rows:
            return True
        age = self.settings.segment_seconds
        return age is not None and seg.rows > 0 and now - seg.opened >= age

    def _open_segment(self) -> None:
        self.paths.history.mkdir(parents=True, exist_ok=True)
        while True:
            self._seq += 1
            path = self.paths.history / open_segment_name(self.writer_id, self._seq)
            try:
                self._segment = HeldSegment(OpenSegment(path, self._schema))
                return
            except FileExistsError:
                continue

    def _segment_taken(self) -> None:
        """A sealer claimed our segment (this process looked dead: store/takeover.py). The
        batches it may have missed are written first into a new segment; warned once."""
        seg = self._segment
        assert seg is not None
        self._segment = None
        self._carry.extendleft(reversed(seg.hand_over()))
        warn_taken(self.writer_id, seg.path, self._warn)

    def _abandon_segment(self) -> None:
        """After a write error the stream may be torn: stop using it (it is sealed later,
        or removed if no batch ever reached it, so a long outage leaves no empty files)."""
        seg = self._segment
        if seg is None:
            return
        self._segment = None
        seg.abandon()  # what it holds is on disk, in a segment sealed later
        if seg.segment.rows == 0:
            seg.path.unlink(missing_ok=True)

    def _close_segment(self, seal_it: bool) -> None:
        """fsync and close the open segment, and queue it for sealing. One found taken goes
        on in a new segment, which is closed in turn."""
        while True:
            if self._carry:
                self._write_queue()  # after a disk error the carry waits for the next tick
            seg = self._segment
            if seg is None:
                return
            try:
                if seg.fsync():
                    break
                self._segment_taken()
            except OSError as e:
                self._segment = None
                self._disk_problem(f"cannot close {seg.path}: {e.strerror or e}")
                return
        self._segment = None
        try:
            seg.segment.close()
        except OSError as e:
            self._disk_problem(f"cannot close {seg.path}: {e.strerror or e}")
            return
        if seal_it:
            if self._sealer is None:  # one long-lived sealer: one seal in memory at a time
                self._sealer = start_thread(self._seal_loop, "flightlog-seal")
            self._to_seal.put(seg.path)

    def _seal_loop(self) -> None:
        while (path := self._to_seal.get()) is not None:
            self._seal_quietly(path)

    def _seal_quietly(self, path: Path) -> None:
        try:
            seal(path)
            release_arrow_memory()
        except FileNotFoundError:
            pass  # claimed by another sealer after our last fsync: it has every row
        except OSError as e:
            self._disk_problem(f"cannot seal {path}: {e.strerror or e}")

    def _seal_leftovers(self) -> None:
        """Seal this writer's segments left open by earlier disk errors."""
        for name, path in list_segments(self.paths.history):
            if name.writer == self.writer_id and not name.sealed and not name.claimed:
                self._seal_quietly(path)

    # -- small files -----------------------------------------------------------------------
    def write_state(self) -> None:
        """Rewrite this writer's state file (heartbeat, step, summary) now."""
        self._write_file(self.paths.writer_state(self.writer_id), self._state())

    def _write_file(self, path: Path, obj: dict[str, Any]) -> None:
        try:
            atomic_write_json(path, obj)
        except OSError as e:
            self._disk_problem(f"cannot write {path}: {e.strerror or e}")


def new_writer_id() -> str:
    """Unique, lowercase, roughly time-ordered: 9 base-36 digits of ms time + 5 random."""
    ms = int(time.time() * 1000)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while ms:
        ms, r = divmod(ms, 36)
        out = digits[r] + out
    return out + "".join(secrets.choice(digits) for _ in range(5))
