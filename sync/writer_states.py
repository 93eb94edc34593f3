"""Which of two states of one writer a server keeps: the later one.

A writer's state file (writers/<wid>.json: its state, rows committed, heartbeat, summary) is
sent with its run on every sync, and a server stored whatever came last. But the same run
can reach a server from two places, the later sync carrying the older state: a store copied
off a compute node mid-run and synced from the copy after the node itself synced the
finished run (a login node's copy-and-sync running late, or a second copy). The copy's
state - running, half the rows, a heartbeat long gone - made the finished run "crashed"
with a half-way summary, for good. A writer's rows committed and its heartbeat only grow,
and a final state comes after every running one, so a state that has fewer rows, or as many
and is running where the stored one ended, or an earlier heartbeat, is an older one and is
not stored over the later.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flightlog.store.liveness import FAILED, FINISHED

#: a writer's states after which it writes no other
ENDED = (FINISHED, FAILED)


def _progress(state: Mapping[str, Any]) -> tuple[float, bool, float]:
    """How far a writer got: rows committed, then whether it ended (a final state is written
    after its last running one, whatever the clock says), then its heartbeat."""
    rows, beat = state.get("rows"), state.get("heartbeat_at")
    return (
        rows if type(rows) in (int, float) else -1,
        state.get("state") in ENDED,
        beat if type(beat) in (int, float) else -math.inf,
    )


def behind(incoming: str | bytes, stored: str | bytes) -> bool:
    """Whether the state `incoming` (JSON text) is older than `stored`, of the same writer.
    A state that does not parse is never behind (it is stored, as it always was)."""
    try:
        new, old = json.loads(incoming), json.loads(stored)
    except ValueError:
        return False
    if not isinstance(new, dict) or not isinstance(old, dict):
        return False
    return _progress(new) < _progress(old)


def merged(stored: Mapping[str, str], incoming: Mapping[str, str]) -> dict[str, str]:
    """Writer states by writer id: `stored` updated with each of `incoming` that is not
    behind the one stored (a state not sent again is kept)."""
    out = dict(stored)
    for wid, state in incoming.items():
        if wid not in out or not behind(state, out[wid]):
            out[wid] = state
    return out


def older_than_stored(path: Path, state: bytes) -> bool:
    """Whether `state` is older than the state file `path` of the same writer (none: no)."""
    try:
        return behind(state, path.read_bytes())
    except OSError:
        return False
