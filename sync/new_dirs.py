"""Stream directories a receiving store makes for an upload (receive.py), made durable out of
the lock every upload of the server takes.

A run's system/ directory is made by its first system segment (not by the run's metadata:
most runs synced have none), and its entry in the run's directory must be durable before
any upload into it is answered. That fsync ran under the store's placement lock, the one
every upload takes for its twin check and rename: a directory fsync takes 1-10 ms on this
machine's disk, up to 100 ms when it is busy, and all uploads waited for it
(tests/benchmarks/bench_place_dirs.py). Now the upload that made the directory fsyncs the
run's directory after the lock, and the uploads placed into it meanwhile wait for that
before they answer; the others do not wait at all.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flightlog.store.atomic import fsync_dir


class NewDirs:
    """The directories made whose entry is not durable yet, each with the event its maker
    sets once it is."""

    def __init__(self) -> None:
        self._making: dict[Path, threading.Event] = {}
        self._lock = threading.Lock()

    def make(self, directory: Path) -> threading.Event:
        """Make `directory` (under the caller's placement lock, so that no upload places
        into it before it is registered here); the caller passes the event to `settle`."""
        directory.mkdir(exist_ok=True)
        with self._lock:
            self._making[directory] = made = threading.Event()
        return made

    def settle(self, directory: Path, made: threading.Event | None) -> None:
        """Return once `directory`'s entry in its parent is durable: fsync the parent when
        this caller made it (`made`), else wait for the caller that did, if one is at it."""
        if made is not None:
            try:
                fsync_dir(directory.parent)
            finally:
                with self._lock:
                    del self._making[directory]
                made.set()
            return
        with self._lock:
            making = self._making.get(directory)
        if making is not None:
            making.wait()
