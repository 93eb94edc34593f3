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

run.json came with the same story (the copy's had the run's first name and config, and
replaced the renamed, reconfigured run's) and carries no version of its own: no sequence,
no time of its last change, and stores written by earlier versions must keep syncing. What
orders two copies of it is the writer states sent with each, read from the same run
directory: a run.json sent with states of which some are behind the stored ones and none
ahead (nor a writer the server lacks) comes from an older copy, and the stored one stays
(`run_json_behind`). Sent with states equal to the stored ones - a rename after the run
ended, through an API or by hand - it is stored, as before.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from flightlog.store.layout import RunPaths
from flightlog.store.liveness import FAILED, FINISHED

#: a writer's states after which it writes no other
ENDED = (FINISHED, FAILED)
T = TypeVar("T", str, bytes)


def _progress(state: Mapping[str, Any]) -> tuple[float, bool, float]:
    """How far a writer got: rows committed, then whether it ended (a final state is written
    after its last running one, whatever the clock says), then its heartbeat."""
    rows, beat = state.get("rows"), state.get("heartbeat_at")
    return (
        rows if type(rows) in (int, float) else -1,
        state.get("state") in ENDED,
        beat if type(beat) in (int, float) else -math.inf,
    )


def _parsed(state: str | bytes) -> tuple[float, bool, float] | None:
    """A state's progress, or None when it does not parse as a state."""
    try:
        doc = json.loads(state)
    except ValueError:
        return None
    return _progress(doc) if isinstance(doc, dict) else None


def behind(incoming: str | bytes, stored: str | bytes) -> bool:
    """Whether the state `incoming` (JSON text) is older than `stored`, of the same writer.
    A state that does not parse is never behind (it is stored, as it always was)."""
    new, old = _parsed(incoming), _parsed(stored)
    return new is not None and old is not None and new < old


def not_behind(stored: Mapping[str, T], incoming: Mapping[str, T]) -> dict[str, T]:
    """The states of `incoming` to store: each that is not behind the one `stored`."""
    return {
        wid: state
        for wid, state in incoming.items()
        if wid not in stored or not behind(state, stored[wid])
    }


def merged(stored: Mapping[str, str], incoming: Mapping[str, str]) -> dict[str, str]:
    """Writer states by writer id: `stored` updated with each of `incoming` that is not
    behind the one stored (a state not sent again is kept)."""
    return {**stored, **not_behind(stored, incoming)}


def run_json_behind(stored: Mapping[str, T], incoming: Mapping[str, T]) -> bool:
    """Whether the run.json sent with the writer states `incoming` is older than the one
    stored with `stored` (see the module's docstring): some incoming state behind, none
    ahead, no writer new."""
    some_behind = False
    for wid, state in incoming.items():
        if wid not in stored or behind(stored[wid], state):
            return False
        some_behind = some_behind or behind(state, stored[wid])
    return some_behind


def stored_states(paths: RunPaths, wids: Iterable[str]) -> dict[str, bytes]:
    """The state files stored in the run directory `paths` for the writers `wids` (those
    that are there)."""
    out = {}
    for wid in wids:
        try:
            out[wid] = paths.writer_state(wid).read_bytes()
        except OSError:
            pass
    return out
