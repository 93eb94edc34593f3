"""Media values of committed rows, waiting for the writer thread to encode and store them.

Split out of store/writer.py: `log()` commits a row's other values at once and leaves its
media (an image, an audio clip) here; the writer thread encodes them off the training thread
and outside the run's lock, and only then commits their references, as values of the same
step: a blob exists before its reference. A kill -9 before that loses those media values
only, never a row's other values.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from .media_ref import MediaValue

#: commits one row (step, time, values, signature id) to the journal, under the run's lock
Commit = Callable[[int, float, dict[str, Any], int], None]


class PendingMedia:
    """(step, time, media values) of committed rows, oldest first. A value the disk
    refuses (full for a moment) keeps its row here, and the rows after it, until a later
    tick stores it; at close it is committed marked dropped, and `warn` says so once,
    naming its key and step."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self._rows: deque[tuple[int, float, dict[str, MediaValue]]] = deque()
        self._warn = warn
        self._deferred = False  # said that a value waits for room

    def __len__(self) -> int:
        """Rows whose media values are held in memory only, not stored yet."""
        return len(self._rows)

    def set_aside(self, step: int, t: float, row: dict[str, Any]) -> dict[str, Any] | None:
        """Keep the media values of `row` (training thread, under the run's lock) and return
        the rest of it, to commit now (None: the row held media only)."""
        media = {k: v for k, v in row.items() if isinstance(v, MediaValue)}
        if not media:
            return row
        self._rows.append((step, t, media))
        return {k: v for k, v in row.items() if k not in media} or None

    def store(self, lock: threading.RLock, commit: Commit, final: bool = False) -> None:
        """Encode and store every media value set aside (writer thread), then commit their
        references, a row at a time. A value the disk refuses stops here, to be tried again
        on the next call (one encoding a tick while the disk is full); with `final` (the
        writer closes) it is committed marked dropped."""
        dropped: list[str] = []
        while self._rows:
            step, t, media = self._rows[0]
            for key, value in media.items():
                why = value.store(final)
                if why is not None and not final:
                    self._wait(key, step, why)
                    return
                if why is not None:
                    dropped.append(f"{key!r} at step {step} ({why})")
            with lock:
                commit(step, t, media, -1)
                self._rows.popleft()
        if dropped:
            more = f", and {len(dropped) - 1} more" if len(dropped) > 1 else ""
            self._warn(
                f"media logged while the disk refused them are dropped: {dropped[0]}{more}; "
                "their rows are kept, with references marked dropped"
            )

    def _wait(self, key: str, step: int, why: str) -> None:
        if not self._deferred:
            self._deferred = True
            self._warn(
                f"the media value {key!r} at step {step} could not be stored ({why}): it is "
                "kept in memory and stored once the disk has room (said once)"
            )
