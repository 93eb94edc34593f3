"""Closing a writer's segments: sealing them on one background thread, and the seal of a
segment the writer closes (its sealed twin finished, or its IPC file fsynced and queued).

Split out of store/writer.py, which decides *when* a segment is closed; this module does the
closing. Disk errors are reported through the writer's `problem` callback, never raised.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from .journal import Mark
from .layout import open_segment_name, parse_segment_name
from .sealing import IncrementalSeal
from .segments import list_segments, seal
from .streams import OpenSegment
from .takeover import HeldSegment
from .threads import start_thread


def release_arrow_memory() -> None:
    """Arrow's allocator (mimalloc) keeps freed pages resident, per thread; hand them back so
    a long run's memory stays flat (costs ~1 µs)."""
    pa.default_memory_pool().release_unused()


def open_segment(
    history: Path, writer_id: str, seq: int, schema: pa.Schema
) -> tuple[HeldSegment, IncrementalSeal | None, int]:
    """A new open segment after number `seq`, with its sealed twin started (None: sealed from
    the IPC file when it is closed), and its number."""
    history.mkdir(parents=True, exist_ok=True)
    while True:
        seq += 1
        path = history / open_segment_name(writer_id, seq)
        try:
            held = HeldSegment(OpenSegment(path, schema))
        except FileExistsError:
            continue
        name = parse_segment_name(path.name)
        assert name is not None
        try:
            return held, IncrementalSeal(path.parent, name, schema), seq
        except (OSError, pa.ArrowException):
            return held, None, seq


class Sealer:
    """Seals a writer's closed segments on one long-lived thread: one seal in memory at a
    time, and the writer thread goes on meanwhile."""

    def __init__(self, history: Path, writer_id: str, problem: Callable[[str], None]) -> None:
        self.history = history
        self.writer_id = writer_id
        self._problem = problem
        self._queue: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        #: IPC files whose sealed twins are in place, to remove
        self._leftovers: list[Path] = []

    def close_segment(
        self, held: HeldSegment, sealing: IncrementalSeal | None, mark: Mark | None
    ) -> bool:
        """Close and seal `held` (which holds every batch written up to `mark`): its twin
        finished here, or its IPC file fsynced and sealed on the thread. Returns whether its
        rows are durable now."""
        try:
            held.segment.close()
        except OSError as e:
            if sealing is not None:
                sealing.abandon()
            self._problem(f"cannot close {held.path}: {e.strerror or e}")
            return False
        if sealing is not None:
            try:
                sealing.finish(mark)  # the twin of every batch: only the rest to write
            except OSError:
                pass  # sealed from the IPC file instead, once that is fsynced
            else:
                # removed by `remove_leftovers`; meanwhile (and if the process dies first)
                # readers read the twin (segments.list_segments), recovery removes the file
                self._leftovers.append(held.path)
                return True
        durable = False
        try:
            with open(held.path, "rb") as f:
                os.fsync(f.fileno())
            durable = True
        except OSError as e:
            self._problem(f"cannot fsync {held.path}: {e.strerror or e}")
        if self._thread is None:
            self._thread = start_thread(self._loop, "flightlog-seal")
        self._queue.put(held.path)
        return durable

    def remove_leftovers(self) -> None:
        """Remove the IPC files of the segments sealed from their twins. Not made durable:
        one back after a power loss is removed on recovery (segments.open_leftovers). It
        drops the file's pages from the page cache (~1 ms per 3 MiB): the writer thread does
        it, never log()'s or finish()'s caller."""
        while self._leftovers:
            self._leftovers.pop().unlink(missing_ok=True)

    def join(self) -> None:
        """Wait for the seals queued, then seal this writer's segments left open by earlier
        disk errors."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        for name, path in list_segments(self.history):
            if name.writer == self.writer_id and not name.sealed and not name.claimed:
                self._seal_quietly(path)

    def _loop(self) -> None:
        while (path := self._queue.get()) is not None:
            self._seal_quietly(path)

    def _seal_quietly(self, path: Path) -> None:
        try:
            seal(path)
            release_arrow_memory()
        except FileNotFoundError:
            pass  # claimed by another sealer after our last fsync: it has every row
        except OSError as e:
            self._problem(f"cannot seal {path}: {e.strerror or e}")
