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
"""

from __future__ import annotations

from pathlib import Path

import duckdb
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
    try:
        names = pq.read_schema(small).names
        if pq.read_schema(big).names != names:
            return None
        row = "hash(" + ", ".join('"' + n.replace('"', '""') + '"' for n in names) + ")"
        config = {"threads": 1, "memory_limit": f"{max(memory >> 20, 16)}MB", "temp_directory": ""}
        with duckdb.connect(config=config) as con:
            found = con.execute(
                f"WITH s AS (SELECT {row} AS h, count(*) AS n FROM read_parquet($small) "
                "GROUP BY h), "
                f"b AS (SELECT {row} AS h, count(*) AS n FROM read_parquet($big) "
                f"WHERE {row} IN (SELECT h FROM s) GROUP BY h) "
                "SELECT count(*) FROM s LEFT JOIN b USING (h) WHERE b.n IS NULL OR b.n < s.n",
                {"small": str(small), "big": str(big)},
            ).fetchone()
    except (OSError, duckdb.Error, ValueError):
        return None
    if found is None or found[0]:
        return None
    return new_rows > old_rows
