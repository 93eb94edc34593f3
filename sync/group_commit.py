"""What one upload request writes, made durable together before it is answered.

A batch of runs (POST /sync/E/P) wrote each run's run.json and writer states with a temp
file, an fsync and a rename each, then fsynced each run's segment directory: on a disk
where an fsync waits for the journal (1-5 ms here), a batch of 22 runs spent ~250 ms of its
worker thread waiting on them one after another. Here the files are written first, then
fsynced together (the disk commits them in one go: bodies.fsync_all), then renamed into
place, then every directory an entry was added to (or a file renamed into) is fsynced once,
together - the new run directories in their project too, which were not made durable
before. Nothing is answered "stored" before `commit` returns.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path

from .bodies import KEEP_OPEN, create_file, fsync_all


class GroupCommit:
    """Files and directory changes of one request, made durable by `commit`."""

    def __init__(self) -> None:
        self._files: list[tuple[Path, Path]] = []  # (temp file, where it goes)
        self._open: dict[Path, int] = {}  # temp file -> its descriptor, until the commit
        self._dirs: set[Path] = set()
        self._after: list[Callable[[], None]] = []
        self._first: list[Callable[[], None]] = []

    def write(self, path: Path, data: bytes) -> None:
        """Write `data` to a temp file next to `path`; renamed over `path` by `commit`, so a
        reader sees the old content or the new, whole."""
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        self._files.append((tmp, path))  # first: removed by `abandon` if the write fails
        fd = create_file(tmp, data)
        if len(self._open) < KEEP_OPEN:
            self._open[tmp] = fd
        else:
            os.close(fd)

    def make_dirs(self, directory: Path) -> None:
        """`mkdir -p directory`; each directory created is made durable in its parent (one
        mkdir where the parent exists, the usual case: no stat first)."""
        try:
            directory.mkdir()
        except FileExistsError:
            return
        except FileNotFoundError:
            self.make_dirs(directory.parent)
            directory.mkdir(exist_ok=True)  # another request may have made it meanwhile
        self._dirs.add(directory.parent)

    def changed(self, directory: Path) -> None:
        """An entry of `directory` was added or renamed in: fsync it at the commit."""
        self._dirs.add(directory)

    def first(self, fn: Callable[[], None]) -> None:
        """Call `fn` when the commit starts, before anything is renamed into place (a
        database transaction of the request: if it fails, nothing is committed)."""
        self._first.append(fn)

    def after(self, fn: Callable[[], None]) -> None:
        """Call `fn` once the commit is durable (telling the index of a run)."""
        self._after.append(fn)

    def commit(self) -> None:
        """fsync the files, rename them into place, fsync the directories: all durable."""
        files, self._files = self._files, []
        first, self._first = self._first, []
        try:
            for fn in first:
                fn()
            fsync_all([self._open.get(tmp, tmp) for tmp, _ in files])
            self._close()
            for tmp, path in files:
                os.replace(tmp, path)
                self._dirs.add(path.parent)
        except BaseException:
            self._close()
            _remove(tmp for tmp, _ in files)
            raise
        dirs, self._dirs = sorted(self._dirs), set()
        fsync_all(dirs)
        after, self._after = self._after, []
        for fn in after:
            fn()

    def abandon(self) -> None:
        """Remove the temp files not yet renamed (the request failed: nothing answered)."""
        files, self._files = self._files, []
        self._close()
        _remove(tmp for tmp, _ in files)
        self._dirs.clear()
        self._after.clear()
        self._first.clear()

    def _close(self) -> None:
        fds, self._open = self._open, {}
        for fd in fds.values():
            os.close(fd)


def _remove(paths: Iterable[Path]) -> None:
    for p in paths:
        p.unlink(missing_ok=True)
