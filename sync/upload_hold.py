"""An upload into a run of a server's store and a DELETE of that run exclude each other.

The upload routes check that the run exists (`require_run`) when the request arrives, then
read its body, then place its segments. A DELETE meanwhile (run_delete_routes.py) renamed
the run's directory away, and the upload went on into it: a 500 "No such file or
directory", or its segments placed and then deleted with the run, answered "stored".
Now the placing, and the commit that makes it durable, hold the run's lock shared
(store/file_lock.py RUN_LOCK; a DELETE holds it exclusive until the directory is renamed
away), and first check the run is still there: one deleted meanwhile is 404
run_not_found with nothing written, as for a run never sent. The body is read before the
lock is taken: a slow client never holds a DELETE up. A run's sync (POST .../sync: its
metadata and segments in one request) holds it too, from its run.json's write to its
commit: a DELETE in between renamed the run away after the request had made its
directories, and the request failed (500) or, the DELETE coming between two of them,
made the run's directory again (mkdir -p).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from flightlog.store.file_lock import GONE, RUN_LOCK, flocked
from flightlog.store.layout import RunPaths, SegmentName

from .refused import run_missing


@contextlib.contextmanager
def upload_held(paths: RunPaths, creating: bool = False) -> Iterator[None]:
    """The run's lock held shared, the run checked to be there (see the module's
    docstring); a lock busy past its wait (a DELETE stopped midway?) is gone on without.
    `creating`: the request brings the run's metadata (POST .../sync), so a run not there
    is no refusal: it is made (nothing to delete before its run.json is written)."""
    with flocked(paths.dir / RUN_LOCK, shared=True) as held:
        if not creating and (held == GONE or not paths.meta.exists()):
            raise run_missing(*paths.address, " (deleted while this upload arrived)")
        yield


def place_held(
    store: Any, paths: RunPaths, stream: str, seg: SegmentName, tmp: Any, digest: str
) -> bool:
    """One segment's `place_segment` (which makes it durable) under `store.uploading`."""
    with store.uploading(paths):
        return bool(store.place_segment(paths, stream, seg, tmp, digest))
