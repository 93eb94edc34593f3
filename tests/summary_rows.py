"""Rows of every kind a summary rule sees, for the tests comparing a summary worked out from
stored rows (a resume's, a killed writer's caught up) with the one a process kept."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

import flightlog
from flightlog.store import RunPaths, StoredRun
from flightlog.store.atomic import atomic_write_json

from .conftest import settled

RULES = {"lo": "min", "hi": "max", "avg": "mean", "one": "first", "end": "last"}
KEYS = [*RULES, "plain"]
#: ints, floats that never equal an int (a tie of 3 and 3.0 may keep either), NaN, bools,
#: strings
VALUES = st.one_of(
    st.integers(-50, 50),
    st.integers(-50, 50).map(lambda i: i + 0.5),
    st.just(math.nan),
    st.booleans(),
    st.sampled_from(["x", "y"]),
)
ROWS = st.lists(st.dictionaries(st.sampled_from(KEYS), VALUES, min_size=1), min_size=1, max_size=9)


def typed(summary: dict[str, Any]) -> dict[str, Any]:
    """What a user sees of each value: its type and value, NaN as itself."""
    out = {}
    for k, v in summary.items():
        if k not in ("_runtime", "_timestamp"):
            out[k] = (type(v).__name__, "nan" if isinstance(v, float) and math.isnan(v) else v)
    return out


def killed_after(run: flightlog.Run, beat: dict[str, Any]) -> StoredRun:
    """`run` finished, read as if its writer had been killed after the heartbeat that
    recorded `beat` (its `_writer_state()`): that state put back, with a dead pid."""
    run.finish(quiet=True)
    settled()
    paths = RunPaths(Path(run.dir))
    dead = {**beat, "state": "running", "pid": os.getpid(), "pid_start": -1}
    atomic_write_json(paths.writer_state(beat["writer"]), dead)
    stored = StoredRun.load(paths)
    assert stored is not None and stored.state == "crashed"
    return stored
