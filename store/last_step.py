"""A run's highest stored step, from its sealed segments' footers where they tell it.

A process joining a shared run (each rank of a requeued job) continues after the earlier
generations' last step: read from every row of a long run, that was the whole history,
once per rank. A sealed segment's Parquet footer holds each row group's min and max `step`
(int64 statistics are exact, never truncated), so only open segments and journals, and a
sealed file without statistics (none sealed here lacks them), are read. A damaged sealed
file's footer still counts: a step after it is a gap, never a repeated step."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .segments import list_segments, read_segments


def last_step(history: Path, writers: Collection[str]) -> int:
    """The highest step `writers` stored in `history` (-1 for none)."""
    best = -1
    footers = set()
    for name, path in list_segments(history):
        if name.sealed and (top := sealed_max_step(path)) is not None:
            footers.add(name.stem)
            if name.writer in writers:
                best = max(best, top)
    for name, table in read_segments(history, read_elsewhere=footers):
        if table.num_rows and name.writer in writers:
            best = max(best, int(table.column("step").to_numpy().max()))
    return best


def sealed_max_step(path: Path) -> int | None:
    """The highest step of a sealed segment by its footer's statistics (-1: no rows); None
    when they are missing or unreadable."""
    try:
        tops = group_max_steps(pq.read_metadata(path))
    except (OSError, pa.ArrowException, ValueError):
        return None
    return None if None in tops else max(tops, default=-1)  # type: ignore[type-var]


def group_max_steps(md: pq.FileMetaData) -> list[int | None]:
    """Each row group's highest step by its statistics (None: the group has none); a
    ValueError for a file without a step column (not a history segment)."""
    column = md.schema.to_arrow_schema().get_field_index("step")
    if column < 0:
        raise ValueError("not a flightlog history segment: no step column")
    out: list[int | None] = []
    for g in range(md.num_row_groups):
        stats = md.row_group(g).column(column).statistics
        out.append(int(stats.max) if stats is not None and stats.has_min_max else None)
    return out
