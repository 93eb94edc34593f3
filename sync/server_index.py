"""The server's index of its own store: one in-memory DuckDB index, kept current cheaply.

The first read builds it (`store.index.Index` over the server root: index.duckdb makes a
restart incremental). After that, only runs the server itself changed are caught up: the
receiving store reports each run whose metadata or segments it stored (`touch`), and the
next read re-describes just those. A listing therefore costs the same on a server of
100,000 runs as on one of 100: no directory walk per request. Runs indexed as running are
re-checked against their heartbeats at most once a second (they crash silently). Files put
under runs/ by hand are seen after a restart. A replica (shared_store.py) also asks the
shared catalog, at most every CHANGES_CHECK seconds, which runs any replica changed since it
last looked, so a run synced through replica A is listed by replica B.

Reads run concurrently through their own cursors (`catalog.select_runs`); catch-up holds
the lock, and DuckDB keeps readers consistent while it writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from flightlog.store.index import Index

#: seconds between re-checks of the heartbeats of runs indexed as running
STATE_CHECK = 1.0
#: seconds between looks at the shared catalog for runs other replicas changed
CHANGES_CHECK = 0.25
#: listing answers kept (by request) until the index changes
ANSWERS = 256


class ServerIndex:
    def __init__(self, root: Path, changes: Callable[[], list[str]] = list) -> None:
        """`changes()` names the runs other replicas changed (from the shared catalog,
        shared_store.py), brought into `root`; it is asked at most every CHANGES_CHECK s."""
        self.root = root
        self._changes = changes
        self._changes_checked = float("-inf")
        self._idx: Index | None = None
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._states_checked = 0.0
        #: bumped whenever what the index answers may have changed (answers cache by it)
        self.version = 0
        self._answers: dict[object, tuple[int, bytes]] = {}

    def touch(self, run_key: str) -> None:
        """A run changed on disk: the next read re-describes it."""
        with self._lock:
            self._dirty.add(run_key)
            self._changes_checked = float("-inf")  # read-your-writes: look at once

    def current(self) -> Index:
        """The index, caught up with every change reported so far."""
        with self._lock:
            if time.monotonic() - self._changes_checked > CHANGES_CHECK:
                self._dirty.update(self._changes())
                self._changes_checked = time.monotonic()
            if self._idx is None:
                self._idx = Index(self.root, keep_files=True)
                self._dirty.clear()
                self._states_checked = time.monotonic()
            elif self._dirty:
                self._idx.catch_up("main", run_keys=sorted(self._dirty))
                self._dirty.clear()
                self.version += 1
            if time.monotonic() - self._states_checked > STATE_CHECK:
                self.version += bool(self._idx.refresh_states())
                self._states_checked = time.monotonic()
            return self._idx

    def cached(self, key: object, make: Callable[[Index], bytes]) -> bytes:
        """`make(index)`, or the answer it gave for `key` while nothing changed since: an
        unchanged listing polled by many clients is computed once."""
        idx = self.current()
        version = self.version
        with self._lock:
            hit = self._answers.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        body = make(idx)
        with self._lock:
            if len(self._answers) >= ANSWERS:
                self._answers.pop(next(iter(self._answers)))
            self._answers[key] = (version, body)
        return body

    def close(self) -> None:
        with self._lock:
            if self._idx is not None:
                self._idx.close()
                self._idx = None
