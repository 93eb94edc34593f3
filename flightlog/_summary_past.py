"""Where a resumed run's summary starts: each key's first and last value, and min, max, sum
and count, over the rows its earlier generations stored.

`define_metric(summary="min")` keeps its aggregate incrementally as rows are committed
(flightlog/_summary.py), which covers this process's rows only. A job killed and requeued
resumes its run, and its best val_loss is in the earlier rows: the aggregates start from
these figures, read from the history once at resume (the summary a killed writer last
recorded may be a heartbeat old, or missing: a writer killed within a second of its start
recorded none, and its keys' last values come from here). Loaded only when a run is
resumed: it needs pyarrow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flightlog.store.schema import FLOAT, HISTORY_SCHEMA, INT, MEDIA, decode_value

from ._summary import MISSING, Past


def past_aggregates(tables: list[pa.Table]) -> dict[str, Past]:
    """Every key's `Past` over `tables` (history segments, any order; a key's first value
    is the one of its lowest step). Min/max/sum/count take the numbers that `summarizable`
    takes: floats but NaN, and ints, not bools."""
    columns = [f.name for f in HISTORY_SCHEMA]
    rows = [t.select(columns).cast(HISTORY_SCHEMA) for t in tables if t.num_rows]
    if not rows:
        return {}
    table = pa.concat_tables(rows)
    table = table.take(pc.sort_indices(table, [("step", "ascending")]))
    keys = table.column("key").combine_chunks().dictionary_encode()
    codes = keys.indices.to_numpy()
    _, first_rows = np.unique(codes, return_index=True)
    _, from_end = np.unique(codes[::-1], return_index=True)
    firsts = table.take(pa.array(first_rows)).to_pylist()
    lasts = table.take(pa.array(len(codes) - 1 - from_end)).to_pylist()
    out = {f["key"]: Past(_decoded(f), _decoded(la)) for f, la in zip(firsts, lasts, strict=True)}
    value, kind = table.column("value"), table.column("kind")
    numeric = pc.and_(
        pc.is_in(kind, pa.array([FLOAT, INT], pa.int8())),
        pc.and_(pc.is_valid(value), pc.invert(pc.is_nan(value))),
    )
    stats = (
        table.filter(numeric)
        .group_by("key")
        .aggregate(
            [
                ("value", "min"),
                ("value", "max"),
                ("value", "sum"),
                ("value", "count"),
                ("kind", "max"),
            ]
        )
    )
    for s in stats.to_pylist():
        whole = s["kind_max"] == INT  # only ints logged: the min and max stay ints
        low, high = s["value_min"], s["value_max"]
        out[s["key"]] = out[s["key"]]._replace(
            low=int(low) if whole else low,
            high=int(high) if whole else high,
            total=s["value_sum"],
            count=s["value_count"],
        )
    return out


def _decoded(row: dict[str, Any]) -> Any:
    """A stored row's value as logged; MISSING for a media value, whose reference needs its
    run's directory (no summary's value, here)."""
    return MISSING if row["kind"] == MEDIA else decode_value(row["value"], row["kind"], row["text"])
