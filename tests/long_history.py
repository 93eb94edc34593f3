"""A finished run with a long history, made in seconds rather than minutes of log() calls:
its segments are written the way the writer seals them (store/sealing.py `write_sealed`),
`keys` float keys a step, and one int key every step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

import flightlog
from flightlog.store import RunPaths, StoredRun
from flightlog.store.layout import SegmentName
from flightlog.store.schema import FLOAT, INT, segment_schema
from flightlog.store.sealing import write_sealed

from .conftest import settled

SEGMENT_ROWS = 500_000


def long_run(
    root: Path, run_id: str, rows: int, keys: int = 9, segment_rows: int = SEGMENT_ROWS
) -> str:
    """Run p/`run_id` of the store at `root`, finished, with about `rows` history rows after
    its first step in segments of `segment_rows`; returns its path for Api.run."""
    run = flightlog.init(project="p", id=run_id, dir=root)
    run.log({"epoch": 0, **{f"m{j}": 0.0 for j in range(keys)}})
    run.finish(quiet=True)
    settled()
    paths = RunPaths(Path(run.dir))
    stored = StoredRun.load(paths)
    assert stored is not None
    writer = str(stored.writers[0]["writer"])
    schema = segment_schema(writer, "long")
    per_step = keys + 1
    steps = max(1, rows // per_step)
    step_rows = max(1, segment_rows // per_step)
    names = pa.array(["epoch"] + [f"m{j}" for j in range(keys)])
    rng = np.random.default_rng(7)
    for seq, first in enumerate(range(1, steps + 1, step_rows), start=1000):
        step = np.repeat(np.arange(first, min(first + step_rows, steps + 1)), per_step)
        n = len(step)
        which = np.tile(np.arange(per_step, dtype=np.int32), n // per_step)
        value = rng.standard_normal(n)
        value[which == 0] = step[which == 0]  # epoch: an int
        batch = pa.record_batch(
            [
                pa.array(step, pa.int64()),
                pa.array(1.7e15 + step * 1000.0, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                pa.DictionaryArray.from_arrays(which, names).cast(pa.string()),
                pa.array(value),
                pa.array(np.where(which == 0, INT, FLOAT).astype(np.int8)),
                pa.nulls(n, pa.string()),
            ],
            schema=schema,
        )
        write_sealed(
            paths.history, SegmentName(writer, seq, None, False), schema, [batch], lambda: None
        )
    return f"p/{run_id}"
