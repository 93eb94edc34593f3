"""Where a run's media go: its `media/` blob store, within the run's media budget.

One `MediaSink` per run (per writing process). `log()` counts the bytes it copied (`hold`)
and commits the rest of the row; the writer thread then encodes the value
(store/writer.py `_store_media`), `put` hashes the file, stores it once (temp then rename:
store/blobs.py) and returns the reference, which the writer commits to the journal as a value
of the row's step: the blob exists (in the page cache, which outlives a kill -9) before the
reference naming it does. The writer thread calls `sync` before each msync of the journal:
it fsyncs the files stored since the last call, concurrently (one fsync costs ~8 ms on a slow
disk, eight at once about as much as one).

The budget (settings `media_max_bytes` / `media_max_files`, FLIGHTLOG_MEDIA_MAX_BYTES /
FLIGHTLOG_MEDIA_MAX_FILES) bounds what one run stores; past it the rows are still written, and
each media value beyond it is a reference marked "dropped" (no file), warned about once. The
memory held by values not encoded yet is bounded too (`MAX_HELD_BYTES`): a script logging
images faster than they can be encoded gets dropped references, never an unbounded backlog.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flightlog.store.atomic import fsync_dir
from flightlog.store.blobs import BlobStore

DEFAULT_MAX_BYTES = 10 * 2**30
DEFAULT_MAX_FILES = 100_000
#: bytes of copied arrays waiting to be encoded before log() drops further media
MAX_HELD_BYTES = 256 * 2**20
#: fsyncs issued at once by `sync`
SYNC_THREADS = 8


class MediaSink:
    """A run's media store and budget; `put` is safe from any thread."""

    def __init__(
        self,
        run_dir: Path,
        warn: Callable[[str], None],
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_files: int = DEFAULT_MAX_FILES,
    ) -> None:
        self.blobs = BlobStore(run_dir / "media")
        self.max_bytes = max_bytes
        self.max_files = max_files
        self._warn = warn
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._used: tuple[int, int] | None = None  # (bytes, files) stored; counted lazily
        self._unsynced: list[Path] = []
        self.held = 0

    def first(self, topic: str) -> bool:
        """True the first time `topic` is named: what is warned about once per run."""
        with self._lock:
            if topic in self._warned:
                return False
            self._warned.add(topic)
            return True

    def warn_once(self, topic: str, message: str) -> None:
        """Print `message` once (the writer thread: warnings filters might hide it)."""
        if self.first(topic):
            self._warn(message)

    # -- the training thread ---------------------------------------------------------------
    def hold(self, nbytes: int) -> bool:
        """Account for `nbytes` copied by log() until they are encoded; False (and one
        warning) when the backlog is full and this value must be dropped."""
        with self._lock:
            if self.held + nbytes > MAX_HELD_BYTES and self.held > 0:
                full = True
            else:
                self.held += nbytes
                full = False
        if full:
            self.warn_once(
                "backlog",
                f"media are logged faster than they can be encoded "
                f"({MAX_HELD_BYTES >> 20} MB waiting); further media are dropped until the "
                "writer catches up (their rows are kept, marked dropped)",
            )
        return not full

    def release(self, nbytes: int) -> None:
        with self._lock:
            self.held -= nbytes

    # -- the writer side -------------------------------------------------------------------
    def put(self, data: bytes, ref: dict[str, Any]) -> dict[str, Any]:
        """Store `data` once and return `ref` completed with path, sha256 and size (or
        marked dropped when the budget is spent)."""
        sha = hashlib.sha256(data).hexdigest()
        size = len(data)
        done = {**ref, "path": f"media/{sha[:2]}/{sha}", "sha256": sha, "size": size}
        if self.blobs.has(sha):
            return done  # stored already: the same image twice costs nothing
        with self._lock:
            used_bytes, used_files = self._usage()
            over = used_bytes + size > self.max_bytes or used_files + 1 > self.max_files
            if not over:
                self._used = (used_bytes + size, used_files + 1)
        if over:
            self.warn_once(
                "budget",
                f"this run's media budget is spent ({self.max_files:,} files or "
                f"{self.max_bytes:,} bytes; settings media_max_files / media_max_bytes, "
                "FLIGHTLOG_MEDIA_MAX_FILES / FLIGHTLOG_MEDIA_MAX_BYTES): rows are kept, media "
                "beyond the budget are references marked dropped, with no file",
            )
            return {**ref, "sha256": sha, "size": size, "dropped": "media budget spent"}
        try:
            blob = self.blobs.put_bytes(data, durable=False)
        except OSError:  # a full disk: tried again later, counted then
            with self._lock:
                used_bytes, used_files = self._usage()
                self._used = (used_bytes - size, used_files - 1)
            raise
        with self._lock:
            self._unsynced.append(blob.path)
        return done

    def sync(self) -> None:
        """fsync every file `put` stored since the last call, and their directories."""
        with self._lock:
            paths, self._unsynced = self._unsynced, []
        if not paths:
            return
        dirs = [*sorted({p.parent for p in paths}), self.blobs.dir]
        try:
            from concurrent.futures import ThreadPoolExecutor  # (RuntimeError at exit too)

            with ThreadPoolExecutor(min(SYNC_THREADS, len(paths))) as pool:
                list(pool.map(_fsync_file, paths))
                list(pool.map(fsync_dir, dirs))
        except RuntimeError:  # the interpreter is shutting down: no new threads
            for p in paths:
                _fsync_file(p)
            for d in dirs:
                fsync_dir(d)

    def _usage(self) -> tuple[int, int]:
        """Bytes and files already in media/ (a resumed run's included), counted once."""
        if self._used is None:
            total = files = 0
            if self.blobs.dir.is_dir():
                for p in self.blobs.dir.glob("??/*"):
                    total += p.stat().st_size
                    files += 1
            self._used = (total, files)
        return self._used


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
