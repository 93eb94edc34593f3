"""`sync.json`: the local record of what a server confirmed about a run.

Written by the uploader (flightlog.sync) next to run.json, read by the index to show a run
as local (never synced), pending (online, or partly synced) or synced. It lives in the store
because the index - which must not depend on the sync package - reads it; the server is
always the truth, and a lost or stale file only costs a round trip.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .atomic import atomic_write_bytes, dumps, read_json
from .layout import RunPaths

SYNC_FILE = "sync.json"
LOCAL, PENDING, SYNCED = "local", "pending", "synced"


def read_mark(paths: RunPaths) -> dict[str, Any]:
    return read_json(paths.dir / SYNC_FILE) or {}


def write_mark(paths: RunPaths, doc: dict[str, Any]) -> None:
    """Best effort: on a read-only store the uploader simply asks the server again."""
    try:
        atomic_write_bytes(paths.dir / SYNC_FILE, dumps(doc), durable=False)
    except OSError:
        pass


def sync_status(meta: dict[str, Any], mark: dict[str, Any], sealed: Iterable[str]) -> str:
    """synced: the server confirmed every sealed segment of a run that had ended; pending: an
    online run, or one synced before it grew; local: never synced."""
    if mark.get("complete"):
        confirmed = set((mark.get("confirmed") or {}).get("history") or ())
        if set(sealed) <= confirmed:
            return SYNCED
        return PENDING
    if mark or meta.get("online"):
        return PENDING
    return LOCAL
