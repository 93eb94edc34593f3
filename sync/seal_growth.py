"""A segment uploaded under a number the server already stores with other content: a longer
seal of the same segment, or a shorter one, or a real conflict.

A store copied off a compute node while a run trains (rsync to a login node) and synced
from there has its open segment sealed in the copy, once its writer is gone from the copy's
point of view. The run, still training on the compute node, later seals that same segment
itself, with more rows, under the same writer and number: the next copy brings both files,
and the sync sent the longer to a server holding the shorter. Sealed files are never
replaced: the server keeps both, and readers read the longer (store/segments.py
`list_segments`). What is compared is the rows, as multisets (a sealed segment's rows are
sorted by key within each row group, so neither file is a prefix of the other in file
order); floats by their bits, so that NaN equals NaN.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from flightlog.store.arrow_owned import Bytes


def grown(stored: Path, new: Path | Bytes) -> bool | None:
    """True: `new` holds every row of `stored` and more (store it too); False: it holds
    fewer rows, all of them in `stored` (already stored); None: neither, a real conflict."""
    try:
        old_rows = _rows(pq.read_table(stored))
        new_rows = _rows(pq.read_table(new if isinstance(new, Path) else pa.BufferReader(new)))
    except (OSError, pa.ArrowException):
        return None
    more = sum(new_rows.values()) - sum(old_rows.values())
    if more > 0:
        return True if old_rows <= new_rows else None
    if more < 0:
        return False if new_rows <= old_rows else None
    return None  # as long, other bytes: not two seals of one segment


def _rows(table: pa.Table) -> Counter[tuple[object, ...]]:
    columns = []
    for column in table.columns:
        if pa.types.is_floating(column.type):
            bits = column.to_numpy(zero_copy_only=False).astype(np.float64).view(np.int64)
            columns.append(bits.tolist())
        else:
            columns.append(column.to_pylist())
    return Counter(zip(*columns, strict=True))
