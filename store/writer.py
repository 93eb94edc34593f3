"""The background writer: one per process per run, the only code that writes a run's files.

`log()` in the training thread only commits each row to the writer's memory-mapped journal
(store/journal.py, store/rowlog.py), which outlives a kill -9 of the process. Every
`flush_interval` this thread converts the rows committed since into Arrow record batches
(each carrying its journal mark) and appends them to the open segment, fsyncs segments and
journals at least every `fsync_interval`, removes the journals that written segments hold,
rotates and seals segments in the background, and rewrites the writer's state file
(heartbeat + summary) and run.json when they changed. A disk error never reaches the
training thread: converted batches stay queued in memory (bounded, oldest dropped and
counted) and are retried on the next tick; the journal keeps every row meanwhile.

Readers recover a journal's rows that no segment holds yet (store/segments.py
`read_segments`); a sealer with proof that this writer is gone turns them into a segment
(store/takeover.py `recover_journals`). That proof is also how the process's exit stays
short after a loop that outran this thread: a backlog of more than DEFER_VALUES values stays
in the journals of a writer recorded finished, for a resume, `flightlog sync`, the agent or
`doctor --repair` to seal. How `finish()` closes the writer without waiting for its last
rows to be written and sealed: store/writer_close.py.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from .current_segment import CurrentSegment
from .hot_loop import HOT_TICK, HotLoop
from .journal import Mark
from .layout import RunPaths
from .pending_media import PendingMedia
from .rowlog import RowLog, RowsSkipped
from .runmeta import MetaPatch, apply_patch
from .schema import segment_schema
from .segment_sealer import Sealer, release_arrow_memory
from .threads import finished, start_thread
from .writer_close import WriterClose


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


#: a backlog (values log() committed, not converted) that closing leaves in the journals
#: instead of converting it: readers read it there, a resume, `flightlog sync`, the agent or
#: `doctor --repair` seal it (store/takeover.py `recover_journals`)
DEFER_VALUES = 1 << 16

#: seconds flush() waits for the writer thread before it lets the script go on
FLUSH_WAIT = 10.0


class RunWriter(WriterClose):
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
        self._lock = lock
        self._warn = warn
        self._schema = segment_schema(writer_id, label)
        self._wake = threading.Event()
        #: a rotation took the spare journal (`_rotated`)
        self._spare_wanted = False
        #: log()'s journals (the rows, until written segments hold them)
        self._rows = RowLog(paths.history, writer_id, label, lock, warn, self._rotated)
        self.signatures = self._rows.signatures
        #: log()'s rate: while it runs hot, its rows wait in the journals (store/hot_loop.py)
        self._hot = HotLoop(warn)
        self._deferred = False
        #: converted batches and their journal marks, in order, waiting to be written
        self._queue: deque[tuple[pa.RecordBatch, Mark]] = deque()
        #: the mark of the last batch written
        self._written: Mark | None = None
        self._state = state
        self._meta = meta
        self._sealer = Sealer(paths.history, writer_id, self._disk_problem)
        self._segment = CurrentSegment(paths.history, writer_id, self._schema, self._sealer, warn)
        self._tick_lock = threading.RLock()  # the thread, flush() and a signal handler
        self._meta_lock = threading.RLock()
        #: run.json patches the disk refused, oldest first (`_write_meta`)
        self._meta_owed: deque[MetaPatch] = deque()
        self._stop = threading.Event()
        self._closed = False
        #: close() is writing: no tick yields to it any more
        self._closing = False
        #: the state file says finished while the thread still seals (see `close`)
        self._sealing = False
        #: set when a kill -9 would lose nothing (`_record_finished`), and at the thread's end
        self._recorded = threading.Event()
        self._record_lock = threading.Lock()  # one record of the finish (`_record_once`)
        self._close_lock = threading.Lock()  # one close (`_close_quietly`)
        self._done = threading.Event()
        #: close()'s caller is done (`then`): the thread writes and seals from here
        self._go_on = threading.Event()
        self._state_lock = threading.RLock()  # a signal handler's flush() may nest
        self._states_taken = self._state_written = 0
        self._flush_waiters: deque[threading.Event] = deque()
        self._thread: threading.Thread | None = None
        #: fsyncs of files rows refer to (a run's media blobs), run with the journal's msync
        self.sync_hooks: list[Callable[[], None]] = []
        self._media = PendingMedia(warn)
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
        may have interrupted log() while it held the lock the writer thread needs. After
        close() (the run finished) there is no row to write: only run.json's changes, here
        (a rename saved after finish() raised IndexError from the closed journals)."""
        if self._stop.is_set():
            self._write_meta()
            return
        t = self._thread
        if inline or t is None or not t.is_alive() or threading.current_thread() is t:
            self._tick(force=True)
            return
        done = threading.Event()
        self._flush_waiters.append(done)
        self._wake.set()
        done.wait(FLUSH_WAIT)

    def append(self, step: int, t: float, row: dict[str, Any], sid: int) -> None:
        """Commit one row (training thread, under `lock`) into the journal: no Arrow, and
        no system call but on the rare journal rotation (store/rowlog.py).

        `sid` is the row's signature id from `signatures` (registered under `lock`). Media
        values (never on the fast path) wait for this thread to encode them: the rest of the
        row is committed now, their references later as values of the same step."""
        rest = self._media.set_aside(step, t, row) if sid < 0 else row
        if rest is not None:
            self._rows.append(step, t, rest, sid)

    # -- the loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            self._run()
        finally:
            self._recorded.set()
            finished(self._done)

    def _run(self) -> None:
        self._rows.prepare()  # a spare journal before log() fills its first one
        due = time.monotonic() + self.settings.flush_interval  # the next tick
        while not self._stop.is_set():
            self._wake.wait(max(0.0, due - time.monotonic()))
            self._wake.clear()
            if self._stop.is_set():
                break
            if self._spare_wanted:  # woken by a rotation: the next spare now
                self._spare_wanted = False
                try:
                    with self._tick_lock:
                        self._rows.prepare()
                except Exception as e:  # never let the writer thread die silently
                    self._disk_problem(f"unexpected error in the writer thread: {e!r}")
            if time.monotonic() < due and not self._flush_waiters:
                continue  # the rows wait for their tick, as ever
            waiters = len(self._flush_waiters)
            backlog = False
            try:
                self._tick(force=waiters > 0)
                backlog = (
                    bool(self._rows.pending_values())
                    and self._failing is None
                    and not self._deferred
                )
            except Exception as e:  # never let the writer thread die silently
                self._disk_problem(f"unexpected error in the writer thread: {e!r}")
            # a backlog: the next tick at once; a hot loop's: fewer ticks (store/hot_loop.py)
            wait = self.settings.flush_interval
            if self._deferred:
                wait = max(wait, HOT_TICK)
            due = time.monotonic() + (0.0 if backlog else wait)
            for _ in range(waiters):
                self._flush_waiters.popleft().set()
        self._finish_closing()

    def _rotated(self) -> None:
        """log() went on in the spare journal (training thread, under the run's lock): wake
        this thread to make the next spare at once, not at its next tick. Rows of 10,000
        keys fill a journal in ~64 rows: waiting for the tick, log() found no spare at the
        next rotation and made one itself (a file reserved, ~10-35 ms under load), then
        faulted on each of its pages."""
        self._spare_wanted = True
        self._wake.set()

    def _tick(self, force: bool = False, closing: bool = False) -> None:
        with self._tick_lock:
            self._tick_locked(force, closing)

    def _convert(self) -> None:
        """Queue, as tidy batches, every row the journals received since the last tick. Rows
        that cannot be converted (never expected: a journal this process wrote itself) are
        skipped, not retried: no disk problem, nothing held in memory for them."""
        try:
            self._rows.take(self._schema, self._queue)
        except RowsSkipped as e:
            self._warn(f"{e}: they are skipped; the rows logged before and after them are kept")

    def _tick_locked(self, force: bool, closing: bool = False) -> None:
        """One round of the writer's work; `closing` leaves out the fsyncs and the state
        file, which closing does once, after sealing."""
        self._media.store(self._lock, self._rows.append, final=closing)  # closing: no retry
        if closing and self._rows.on_disk() and self._queued_values() > DEFER_VALUES:
            self._queue.clear()  # converted, not written: their journals keep them too
            wrote = False
        else:
            rows = self._rows
            self._deferred = not force and self._hot.defer(rows.converted, rows.pending_values())
            if not self._deferred:
                self._convert()
            wrote = self._write_queue()
            while force and self._rows.pending_values() and not self._yield_to_close():
                self._convert()  # flush(), finish(): everything
                wrote = self._write_queue() or wrote
        if self._failing is not None:
            self._bound_queue()
        if self._yield_to_close():
            return  # closing fsyncs, seals and writes the state, right after this tick
        now = time.monotonic()
        if not closing and (force or now - self._last_fsync >= self.settings.fsync_interval):
            held = self._segment.held
            if self._unsynced and held is not None:
                try:
                    if held.fsync():
                        self._fsynced()
                    else:
                        self._segment_taken()
                except OSError as e:
                    self._disk_problem(f"fsync of {held.path} failed: {e.strerror or e}")
                self._unsynced = False
            for hook in self.sync_hooks:
                hook()
            self._rows.sync()
            self._last_fsync = now
        if self._segment.full(now, self.settings.segment_rows, self.settings.segment_seconds):
            self._close_segment()
        if wrote:
            release_arrow_memory()
        self._write_meta()
        if not closing and (force or now - self._last_beat >= self.settings.heartbeat_interval):
            self.write_state()
            self._last_beat = now
        if not closing and not self._stop.is_set():
            self._rows.prepare()  # last: rows first reach the segments

    def _write_meta(self) -> None:
        """Merge what the run changed in run.json into the file, if anything (this thread's
        ticks and finish()'s record: one at a time, so an older patch never lands last). A
        patch the disk refused is its changes' only copy (the run handed them over): it is
        kept and merged first on the next try; dropped, a config value set while the disk
        was full never reached run.json, nor an artifact used or logged then."""
        with self._meta_lock:
            patch = self._meta()
            if patch:
                self._meta_owed.append(patch)
            while self._meta_owed:
                try:
                    apply_patch(self.paths.meta, self._meta_owed[0])
                except OSError as e:
                    self._disk_problem(f"cannot write {self.paths.meta}: {e.strerror or e}")
                    return
                self._meta_owed.popleft()

    def _write_queue(self) -> bool:
        """Write every converted batch, in order; returns whether anything was written."""
        wrote = False
        while self._queue and not self._yield_to_close():
            batch, mark = self._queue[0]
            try:
                self._segment.write(batch, mark, durable=not self._closing)
            except OSError as e:
                self._disk_problem(f"cannot write {self._segment.where}: {e.strerror or e}")
                self._segment.abandon()
                return wrote  # the batch stays first in the queue: retried on the next tick
            self._queue.popleft()
            self.rows_written += batch.num_rows
            self._written = mark if self._written is None else max(self._written, mark)
            wrote = True
            self._unsynced = True
        if wrote and self._segment.held is not None:
            if self._segment.held.check():  # one stat a flush: is the segment still ours?
                self._rows.release(self._written)  # the page cache keeps them from here
            else:
                self._segment_taken()
        if self._failing is not None and not self._queue:
            lost = f"; {self._dropped} rows were dropped while it failed" if self._dropped else ""
            self._warn(f"writing to {self.paths.dir} works again{lost}")
            self._failing = None
        return wrote

    def _yield_to_close(self) -> bool:
        """Has close() been called during this tick? Then the tick ends at the next batch:
        closing decides what is left (all written, or a backlog left to the journals)."""
        return self._stop.is_set() and not self._closing

    def _fsynced(self) -> None:
        """Every batch written so far is on disk: the journals holding only those rows go
        (if the page cache's copy has not already let them go)."""
        self._rows.release(self._written)

    def _queued_values(self) -> int:
        """Values waiting: converted and queued, or still only in the journal."""
        return sum(b.num_rows for b, _ in self._queue) + self._rows.pending_values()

    def _bound_queue(self) -> None:
        """While writes fail, drop the oldest converted batches past max_buffered_rows (the
        journal still holds them, but readers skip rows before a later batch's mark)."""
        excess = self._queued_values() - self.settings.max_buffered_rows
        while excess > 0 and len(self._queue) > 1:
            n = self._queue.popleft()[0].num_rows
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
    def _segment_taken(self) -> None:
        """A sealer claimed our segment: the batches it may have missed go first."""
        self._queue.extendleft(reversed(self._segment.take_back()))

    def _close_segment(self) -> None:
        """fsync, close and seal the open segment. One found taken goes on in a new segment,
        which is closed in turn."""
        while True:
            if self._queue:
                self._write_queue()  # after a disk error the rest waits for the next tick
            held = self._segment.held
            if held is None:
                return
            try:
                if self._segment.ready_to_close(queued=bool(self._queue)):
                    break
                self._segment_taken()
            except OSError as e:
                self._segment.forget()
                self._disk_problem(f"cannot close {held.path}: {e.strerror or e}")
                return
        if self._segment.close(self._written):
            self._fsynced()
        self._sealer.remove_leftovers()


def new_writer_id() -> str:
    """Unique, lowercase, roughly time-ordered: 9 base-36 digits of ms time + 5 random."""
    ms = int(time.time() * 1000)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while ms:
        ms, r = divmod(ms, 36)
        out = digits[r] + out
    return out + "".join(secrets.choice(digits) for _ in range(5))
