"""Reading a run that logs new keys as it goes in pieces of whole steps (`store/wide.py`
`row_blocks`): each piece's grid holds the keys that piece logs, not every key of the run."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .long_codes import Coder

#: a run is read in pieces from this many long rows, when its grid would hold more than
#: SPARSE_DENSITY cells per long row and SPARSE_CELLS in all
SPARSE_ROWS = 1 << 12
SPARSE_CELLS = 1 << 22
SPARSE_DENSITY = 8


def sparse(tidy: pa.Table) -> list[pa.Table] | None:
    """The rows in pieces of whole steps, in step order, when one grid of every key by every
    row would be large and mostly empty: a run that logs new keys as it goes (one per row:
    10,000 rows made a 10,000 x 10,000 grid, and reading it took 8.5 s; 30,000 keys, minutes
    and gigabytes). Each piece's grid holds the keys that piece logs. One writer only: several
    writers' rows of one step are ordered by when each writer started, a whole-run fact."""
    m = tidy.num_rows
    if m < SPARSE_ROWS or len(Coder(tidy.column("writer")).names) != 1:
        return None
    keys = len(Coder(tidy.column("key")).names)
    low, high = pc.min_max(tidy.column("step")).as_py().values()
    small = max(SPARSE_CELLS, SPARSE_DENSITY * m)
    if keys * (high - low + 1) <= small:  # the steps' span bounds the rows: no sort
        return None
    step = tidy.column("step").to_numpy()
    if keys * len(np.unique(step)) <= small:  # small, or dense enough
        return None
    order = np.argsort(step, kind="stable")  # a step's cells in the order they were logged
    ordered = step[order]
    per_piece = max(SPARSE_CELLS // keys, m // 64, 1)
    cuts = np.unique(np.searchsorted(ordered, ordered[per_piece::per_piece], side="left"))
    bounds = [0, *cuts[cuts > 0].tolist(), m]
    taken = tidy.take(pa.array(order))
    # plain strings: a piece's keys are then those it holds, not its files' whole dictionary
    at = taken.schema.get_field_index("key")
    taken = taken.set_column(at, "key", taken.column("key").cast(pa.string()))
    return [taken.slice(a, b - a) for a, b in pairwise(bounds) if b > a]
