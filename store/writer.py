"""The background writer: one per process per run, the only code that writes a run's files.

`log()` in the training thread only appends to `RunWriter.buffer` (see `RowBuffer`);
this thread turns them into one Arrow record batch every `flush_interval` and appends it to
the open segment, fsyncs at least every `fsync_interval`, rotates and seals segments in the
background, and rewrites the writer's state file (heartbeat + summary) and run.json when they
changed. A disk error never reaches the training thread: batches stay queued in memory
(bounded, oldest dropped and counted) and are retried on the next tick.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .atomic import atomic_write_json
from .layout import RunPaths, open_segment_name
from .schema import BOOL, FLOAT, INT, encode_value, segment_schema
from .segments import OpenSegment, list_segments, seal
from .threads import start_thread

#: a row's signature: its keys and the types of its values, in order
Signature = tuple[tuple[str, ...], tuple[type, ...]]

_FAST_KINDS = {float: FLOAT, int: INT, bool: BOOL}
_EXACT = 2**53


def release_arrow_memory() -> None:
    """Arrow's allocator (mimalloc) keeps freed pages resident, per thread; hand them back so
    a long run's memory stays flat (costs ~1 µs)."""
    pa.default_memory_pool().release_unused()


class RowBuffer:
    """Committed rows, as cheap as possible for the training thread to append.

    A row whose values are all float/int/bool is stored as its step, time, signature id and
    values in C arrays: no Python object outlives `log()` (so a backlog costs ~100 bytes a
    row and fragments nothing), and the writer rebuilds the key and kind columns from the
    signature table with numpy. Other rows (strings, None, ints
    beyond 2**53) keep their dict and take the generic path.
    """

    __slots__ = ("mixed", "sigs", "steps", "times", "values")

    def __init__(self) -> None:
        self.steps = array("q")
        self.times = array("d")
        self.sigs = array("q")
        self.values = array("d")
        self.mixed: list[tuple[int, float, dict[str, Any]]] = []

    def __bool__(self) -> bool:
        return bool(self.steps or self.mixed)


class SignatureTable:
    """Signature ids and, per id, the key codes and kinds of its values (append-only).

    `ids` holds every signature validated so far (-1 for rows that take the generic path);
    readers may `get` from it without the lock, `register` must hold it."""

    def __init__(self) -> None:
        self.ids: dict[Signature, int] = {}
        self.key_codes: dict[str, int] = {}
        self.keys: list[str] = []
        self.has_int: list[bool] = []
        self._codes: list[np.ndarray] = []
        self._kinds: list[np.ndarray] = []
        self._snapshot: tuple[Any, ...] | None = None

    def register(self, sig: Signature) -> int:
        """Id of `sig`, or -1 if its rows cannot take the fast path."""
        keys, types = sig
        if not all(t in _FAST_KINDS for t in types):
            self.ids[sig] = -1
            return -1
        codes = []
        for k in keys:
            if k not in self.key_codes:
                self.key_codes[k] = len(self.keys)
                self.keys.append(k)
            codes.append(self.key_codes[k])
        sid = len(self._codes)
        self._codes.append(np.array(codes, np.int32))
        self._kinds.append(np.array([_FAST_KINDS[t] for t in types], np.int8))
        self.has_int.append(int in types)
        self.ids[sig] = sid
        self._snapshot = None
        return sid

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pa.Array]:
        """(offsets, lengths, flat key codes, flat kinds, key dictionary) of every id so far."""
        if self._snapshot is None:
            lengths = np.array([len(c) for c in self._codes], np.int64)
            offsets = np.cumsum(lengths) - lengths
            flat_codes = np.concatenate(self._codes) if self._codes else np.zeros(0, np.int32)
            flat_kinds = np.concatenate(self._kinds) if self._kinds else np.zeros(0, np.int8)
            self._snapshot = (
                offsets,
                lengths,
                flat_codes,
                flat_kinds,
                pa.array(self.keys, pa.string()),
            )
        return self._snapshot


def signature(row: dict[str, Any]) -> Signature:
    return tuple(row), tuple(map(type, row.values()))


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

#: values per record batch: bounds the memory one conversion takes, whatever the backlog
CHUNK_VALUES = 131072


def _fast_batches(
    buf: RowBuffer, table: tuple[Any, ...], schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    offsets, lengths, flat_codes, flat_kinds, key_dict = table
    sids = np.frombuffer(buf.sigs, np.int64)
    lens = lengths[sids]
    ends = np.cumsum(lens)
    steps = np.frombuffer(buf.steps, np.int64)
    times_us = (np.frombuffer(buf.times, np.float64) * 1e6).astype(np.int64)
    values = np.frombuffer(buf.values, np.float64)
    r0 = 0
    while r0 < len(sids):
        v0 = int(ends[r0] - lens[r0])
        r1 = max(int(np.searchsorted(ends, v0 + CHUNK_VALUES, side="right")), r0 + 1)
        rl = lens[r0:r1]
        total = int(rl.sum())
        idx = np.repeat(offsets[sids[r0:r1]] - (np.cumsum(rl) - rl), rl) + np.arange(total)
        yield pa.RecordBatch.from_arrays(
            [
                pa.array(np.repeat(steps[r0:r1], rl)),
                pa.array(np.repeat(times_us[r0:r1], rl), pa.timestamp("us", tz="UTC")),
                key_dict.take(pa.array(flat_codes[idx])),
                pa.array(values[v0 : v0 + total]),
                pa.array(flat_kinds[idx]),
                pa.nulls(total, pa.string()),
            ],
            schema=schema,
        )
        r0 = r1


def _mixed_batch(
    rows: list[tuple[int, float, dict[str, Any]]], schema: pa.Schema
) -> pa.RecordBatch:
    counts = [len(r[2]) for r in rows]
    enc = [encode_value(v) for r in rows for v in r[2].values()]
    times_us = (np.array([r[1] for r in rows], np.float64) * 1e6).astype(np.int64)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(np.repeat(np.array([r[0] for r in rows], np.int64), counts)),
            pa.array(np.repeat(times_us, counts), pa.timestamp("us", tz="UTC")),
            pa.array([k for r in rows for k in r[2]], pa.string()),
            pa.array([e[0] for e in enc], pa.float64()),
            pa.array(np.array([e[1] for e in enc], np.int8)),
            pa.array([e[2] for e in enc], pa.string()),
        ],
        schema=schema,
    )


def rows_to_batches(
    buf: RowBuffer, table: tuple[Any, ...], schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Tidy record batches (of at most ~CHUNK_VALUES rows) from a drained buffer."""
    if buf.steps:
        yield from _fast_batches(buf, table, schema)
    step = max(1, CHUNK_VALUES // 16)
    for i in range(0, len(buf.mixed), step):
        yield _mixed_batch(buf.mixed[i : i + step], schema)


class _Slot:
    """The batches of one drained buffer, in the queue before they exist (see _drain)."""

    __slots__ = ("batches", "ready")

    def __init__(self) -> None:
        self.batches: deque[pa.RecordBatch] = deque()
        self.ready = False


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
        meta: Callable[[], dict[str, Any] | None],
        warn: Callable[[str], None],
    ) -> None:
        self.paths = paths
        self.writer_id = writer_id
        self.settings = settings
        self.buffer = RowBuffer()  # appended to by the training thread under `lock`
        self.signatures = SignatureTable()
        self._lock = lock
        self._schema = segment_schema(writer_id, label)
        self._state = state
        self._meta = meta
        self._warn = warn
        self._queue: deque[_Slot] = deque()
        self._queued_rows = 0
        self._segment: OpenSegment | None = None
        self._seq = 0
        self._to_seal: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._sealer: threading.Thread | None = None
        self._tick_lock = threading.RLock()  # the thread, flush() and a signal handler
        self._stop = threading.Event()
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

    def flush(self) -> None:
        """Write what is buffered now, from the calling thread (SIGTERM, finish)."""
        self._tick(force=True)

    def close(self) -> None:
        """Stop the thread, write everything, seal every segment of this writer.

        Never raises: it runs at exit and in signal handlers of someone's training script."""
        try:
            self._close()
        except Exception as e:
            self._warn(f"could not finish writing {self.paths.dir}: {e!r}")

    def _close(self) -> None:
        self._stop.set()
        self._wake.set()
        t = self._thread
        if t is not None and t.is_alive() and threading.current_thread() is not t:
            t.join()
        self._tick(force=True)
        self._close_segment(seal_it=True)
        if self._sealer is not None:
            self._to_seal.put(None)
            self._sealer.join()
        self._seal_leftovers()
        self.write_state()
        if self._queued_rows > 0:
            self._warn(
                f"{self._queued_rows:,} values could not be written to {self.paths.dir} and are "
                f"lost ({self._failing or 'disk error'})"
            )

    def append(self, step: int, t: float, row: dict[str, Any], sid: int) -> None:
        """Buffer one committed row (training thread, under `lock`): no I/O, no Arrow.

        `sid` is the row's signature id from `signatures` (registered under `lock`)."""
        buf = self.buffer
        if sid >= 0 and not (
            self.signatures.has_int[sid]
            and not all(-_EXACT <= v <= _EXACT for v in row.values() if type(v) is int)
        ):
            buf.steps.append(step)
            buf.times.append(t)
            buf.sigs.append(sid)
            buf.values.extend(row.values())
        else:
            buf.mixed.append((step, t, dict(row)))  # the caller may reuse its dict
        if len(buf.steps) + len(buf.mixed) >= INLINE_DRAIN_ROWS:
            # A fast loop starves the writer thread of the GIL (each Arrow call it makes costs
            # a 5 ms switch interval to get the GIL back), so the backlog is converted here,
            # in one go: pure CPU, ~0.2 µs a row amortised, and memory stays bounded.
            self._drain()

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

    def _drain(self) -> bool:
        """Turn the buffered rows into Arrow batches on the write queue. Returns if any.

        Both threads drain (the writer every tick, log() past INLINE_DRAIN_ROWS), so the
        queue slot is taken together with the buffer, under the lock: batches are written in
        the order their rows were logged even when a later drain finishes converting first.
        """
        with self._lock:
            buf = self.buffer
            if not buf:
                return False
            self.buffer = RowBuffer()
            table = self.signatures.snapshot()
            slot = _Slot()
            self._queue.append(slot)
        try:
            batches = list(rows_to_batches(buf, table, self._schema))
        except Exception as e:  # never expected (values are normalised); never into log()
            batches = []
            self._disk_problem(f"could not convert {len(buf.steps) + len(buf.mixed)} rows: {e!r}")
        with self._lock:
            slot.batches.extend(batches)
            slot.ready = True
            self._queued_rows += sum(b.num_rows for b in batches)
            self._bound_queue()
        release_arrow_memory()  # mimalloc heaps are per thread: each thread frees its own
        return True

    def _tick_locked(self, force: bool) -> None:
        self._drain()
        wrote = self._write_queue()
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
        if self._segment is not None and self._segment_full(now):
            self._close_segment(seal_it=True)
        if wrote:
            release_arrow_memory()
        meta = self._meta()
        if meta is not None:
            self._write_file(self.paths.meta, meta)
        if force or now - self._last_beat >= self.settings.heartbeat_interval:
            self.write_state()
            self._last_beat = now

    def _write_queue(self) -> bool:
        """Write every queued batch; returns whether anything was written."""
        wrote = False
        while True:
            with self._lock:  # log() may append (or drop the oldest) concurrently
                if not self._queue or not self._queue[0].ready:
                    break  # the next rows in order are still being converted
                slot = self._queue[0]
                if not slot.batches:
                    self._queue.popleft()
                    continue
                batch = slot.batches.popleft()
            try:
                if self._segment is None:
                    self._open_segment()
                assert self._segment is not None
                self._segment.write(batch)
            except OSError as e:
                with self._lock:
                    slot.batches.appendleft(batch)  # retried on the next tick
                where = self._segment.path if self._segment else self.paths.history
                self._disk_problem(f"cannot write {where}: {e.strerror or e}")
                self._abandon_segment()
                return wrote
            wrote = True
            with self._lock:
                self._queued_rows -= batch.num_rows
            self.rows_written += batch.num_rows
            self._unsynced = True
        if self._failing is not None:
            lost = f"; {self._dropped} rows were dropped while it failed" if self._dropped else ""
            self._warn(f"writing to {self.paths.dir} works again{lost}")
            self._failing = None
        return wrote

    def _bound_queue(self) -> None:
        while (
            self._queued_rows > self.settings.max_buffered_rows
            and len(self._queue) > 1
            and self._queue[0].ready
        ):
            n = sum(b.num_rows for b in self._queue.popleft().batches)
            self._queued_rows -= n
            self._dropped += n

    def _disk_problem(self, message: str) -> None:
        if self._failing is None:
            self._failing = message
            self._warn(
                f"{message}. Training continues; flightlog keeps up to "
                f"{self.settings.max_buffered_rows:,} values in memory and retries."
            )

    # -- segments --------------------------------------------------------------------------
    def _segment_full(self, now: float) -> bool:
        seg = self._segment
        assert seg is not None
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
        except OSError as e:
            self._disk_problem(f"cannot seal {path}: {e.strerror or e}")

    def _seal_leftovers(self) -> None:
        """Seal this writer's segments left open by earlier disk errors."""
        for name, path in list_segments(self.paths.history):
            if name.writer == self.writer_id and not name.sealed:
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


def seal_open_segments(paths: RunPaths) -> int:
    """Seal every open segment of a run no process is writing (recovery before a resume),
    history and system metrics alike. Returns how many."""
    n = 0
    for stream in ("history", "system"):
        for name, path in list_segments(paths.stream(stream)):
            if not name.sealed:
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
