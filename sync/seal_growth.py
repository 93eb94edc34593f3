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
order), each row by a 64-bit hash of all its columns (NaN equals NaN).

The comparison runs in DuckDB, streaming the longer file against the distinct rows of the
shorter, within `memory` bytes (the server's --read-memory-mb; beyond it, a conflict): any
member may upload a segment of millions of rows under a number they stored short, and the
rows as Python objects took gigabytes of the server's memory and minutes of its CPU.

The same comparison says whether a segment sealed from a writer's journal by someone else
(store/takeover.py: a copy's sync, numbered from RECOVERED_SEQ) is held by the writer's own
seals (`held`, over several files): the copy's rows, sealed again by the job itself
(seal_retirement.py `retire_recovered`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from flightlog.store.segments import sealed_rows

#: DuckDB's memory for one comparison, by default (ServerLimits.read_memory's)
MEMORY = 256 * 1024 * 1024


def grown(stored: Path, new: Path, memory: int = MEMORY) -> bool | None:
    """True: `new` holds every row of `stored` and more (store it too); False: it holds
    fewer rows, all of them in `stored` (already stored); None: neither, a real conflict
    (or a file that does not read)."""
    old_rows, new_rows = sealed_rows(stored), sealed_rows(new)
    if old_rows < 0 or new_rows < 0 or old_rows == new_rows:
        return None  # as long, other bytes: not two seals of one segment
    small, big = (stored, new) if new_rows > old_rows else (new, stored)
    if not held(small, [big], memory):
        return None
    return new_rows > old_rows


def held(small: Path, holders: Sequence[Path], memory: int = MEMORY) -> bool:
    """Whether the sealed files `holders` together hold every row of `small`, as many times
    as it does (False too when a file does not read, or their columns differ)."""
    try:
        names = pq.read_schema(small).names
        if not holders or any(pq.read_schema(h).names != names for h in holders):
            return False
        row = "hash(" + ", ".join('"' + n.replace('"', '""') + '"' for n in names) + ")"
        config = {"threads": 1, "memory_limit": f"{max(memory >> 20, 16)}MB", "temp_directory": ""}
        with duckdb.connect(config=config) as con:
            found = con.execute(
                f"WITH s AS (SELECT {row} AS h, count(*) AS n FROM read_parquet($small) "
                "GROUP BY h), "
                f"b AS (SELECT {row} AS h, count(*) AS n FROM read_parquet($big) "
                f"WHERE {row} IN (SELECT h FROM s) GROUP BY h) "
                "SELECT count(*) FROM s LEFT JOIN b USING (h) WHERE b.n IS NULL OR b.n < s.n",
                {"small": str(small), "big": [str(h) for h in holders]},
            ).fetchone()
    except (OSError, duckdb.Error, ValueError):
        return False
    return found is not None and found[0] == 0


def step_span(path: Path) -> tuple[int, int] | None:
    """The lowest and highest step of a sealed file, from its footer's statistics (None
    when it does not read or keeps none)."""
    try:
        md = pq.read_metadata(path)
        column = md.schema.to_arrow_schema().get_field_index("step")
        if column < 0:
            return None
        spans = [md.row_group(i).column(column).statistics for i in range(md.num_row_groups)]
    except (OSError, pa.ArrowException, ValueError):
        return None
    if not spans or any(s is None or not s.has_min_max for s in spans):
        return None
    return min(int(s.min) for s in spans), max(int(s.max) for s in spans)
