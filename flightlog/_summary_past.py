"""Where a resumed run's summary starts: each key's first and last value, and min, max, sum
and count, over the rows its earlier generations stored.

`define_metric(summary="min")` keeps its aggregate incrementally as rows are committed
(flightlog/_summary.py), which covers this process's rows only. A job killed and requeued
resumes its run, and its best val_loss is in the earlier rows: the aggregates start from
these figures, read from the history once at resume. The summary a killed writer recorded
may be a heartbeat old, or missing (killed within a second of its start): a key it lacks
takes its last stored value from here. One group-by over the rows and two masks, all
vectorised (a million rows: about the time reading them takes); loaded only on resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from flightlog.store.schema import FLOAT, HISTORY_SCHEMA, INT, MEDIA, decode_value

from ._summary import MISSING, Past


def resumed_summary(
    tables: list[pa.Table], summary: Mapping[str, Any]
) -> tuple[dict[str, Past], dict[str, Any]]:
    """The earlier generations' figures of every key in `tables` (history segments), and
    the summary the resumed run starts from: the writers' recorded `summary` (it holds
    run.summary[...] = ... overrides), plus the last stored value of each key it lacks."""
    base = {k: v for k, v in summary.items() if not k.startswith("_")}
    columns = [f.name for f in HISTORY_SCHEMA]
    parts = [t.select(columns).cast(HISTORY_SCHEMA) for t in tables if t.num_rows]
    if not parts:
        return {}, base
    table = pa.concat_tables(parts)
    value, kind = table.column("value"), table.column("kind")
    numeric = pc.fill_null(  # what `summarizable` takes: floats but NaN, and ints (not bools)
        pc.and_(
            pc.is_in(kind, pa.array([FLOAT, INT], pa.int8())),
            pc.and_(pc.is_valid(value), pc.invert(pc.is_nan(value))),
        ),
        False,
    )
    by_key = pa.table(
        {
            "key": table.column("key"),
            "step": table.column("step"),
            "number": pc.if_else(numeric, value, pa.scalar(None, pa.float64())),
            "kind": pc.if_else(numeric, kind, pa.scalar(None, pa.int8())),
        }
    ).group_by("key")
    stats = by_key.aggregate(
        [("number", f) for f in ("min", "max", "sum", "count")]
        + [("kind", "min"), ("kind", "max"), ("step", "min"), ("step", "max")]
    )
    code = pc.index_in(table.column("key"), value_set=stats.column("key")).to_numpy(
        zero_copy_only=False
    )
    steps = table.column("step").to_numpy()
    firsts, lasts = (
        _values(table.filter(pa.array(steps == stats.column(c).to_numpy()[code])))
        for c in ("step_min", "step_max")
    )
    past = {}
    for s in stats.to_pylist():
        k = s["key"]  # only ints logged (no float among its numbers): min and max stay ints
        whole = s["kind_min"] == s["kind_max"] == INT
        low, high = s["number_min"], s["number_max"]
        past[k] = Past(
            first=firsts.get(k, MISSING),
            low=MISSING if low is None else int(low) if whole else low,
            high=MISSING if high is None else int(high) if whole else high,
            total=s["number_sum"] or 0.0,
            count=s["number_count"],
        )
    return past, {**lasts, **base}


def _values(rows: pa.Table) -> dict[str, Any]:
    """Each key's value in `rows` (a key several writers of a shared run logged at that
    step: one of them); a media value is left out (its reference needs the run's
    directory, and no summary starts from it)."""
    return {
        r["key"]: decode_value(r["value"], r["kind"], r["text"])
        for r in rows.to_pylist()
        if r["kind"] != MEDIA
    }
