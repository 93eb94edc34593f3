"""A step chart from pyramids (store/pyramid.py): the buckets of `downsample(x="step")`
without reading every row.

Every sealed segment answers with its pyramid level whose buckets are at most 1/8 of a chart
bucket; open segments, segments without a usable pyramid, and the steps at the edges of a
zoomed range that a pyramid bucket only partly covers, answer with their raw rows (the range
prunes Parquet row groups). Both become "units" (a step range with its min, max, last, count)
that DuckDB merges into the chart's buckets, so the answer has the raw query's columns.

Exactness: each chart bucket's vmin, vmax, vlast and n are those of the stored values at the
steps it reports (x_min..x_max), never an estimate: a spike is always in its bucket's max. A
pyramid bucket goes whole to the chart bucket of its first step, so a chart bucket's edges
may move by less than 1/8 of its width from the raw query's (and a zoomed chart's first and
last buckets stop exactly at the range's ends, from raw rows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .pyramid import SCHEMA, TEXT_LEVEL, Pyramids, level_for, pyramid_dir
from .query import NUMERIC, _Segments, _segments, history_view

Seg = tuple[str, str, str]  # run key, path, writer label
#: raw rows as units. Their NaNs are left out of min and max only after the union with the
#: pyramids' rows: DuckDB 2.0 folds `isnan(value)` of a Parquet column to false when the
#: file's statistics (which skip NaN) say min and max are numbers, so a NaN row's value
#: would become a bucket's max; the union's column has no statistics to fold by.
_RAW_UNITS = (
    "SELECT run_key, key, step AS step_min, step AS step_max, value AS vmin, value AS vmax, "
    "value AS vlast, CAST(1 AS BIGINT) AS n FROM {view} WHERE {numeric}{where}"
)


def pyramids_of(idx: Any) -> Pyramids:
    """The sidecars of the store `idx` reads (a server's one-run view brings its own)."""
    return getattr(idx, "pyramids", None) or Pyramids(pyramid_dir(idx.root))


def _approx_steps(segs: _Segments) -> tuple[float, float] | None:
    """The step extent of the sealed segments (index rows, else Parquet footers, noted in
    `segs.steps`): enough to pick a level; the chart's own bounds come from the data."""
    lo, hi = math.inf, -math.inf
    for _, path, _ in segs.sealed:
        if path not in segs.steps and (span := _footer_steps(path)) is not None:
            segs.steps[path] = span
        if path in segs.steps:
            lo, hi = min(lo, segs.steps[path][0]), max(hi, segs.steps[path][1])
    return (lo, hi) if lo <= hi else None


def _footer_steps(path: str) -> tuple[int, int] | None:
    try:
        return footer_steps(pq.read_metadata(path))
    except (OSError, ValueError, pa.ArrowException):
        return None


def footer_steps(md: pq.FileMetaData) -> tuple[int, int] | None:
    """(lowest, highest) step of a sealed segment from its footer's row-group statistics
    (no data read), None if a row group has none; ValueError without a step column."""
    si = [md.schema.column(i).name for i in range(md.num_columns)].index("step")
    stats = [md.row_group(g).column(si).statistics for g in range(md.num_row_groups)]
    if not stats or any(s is None or not s.has_min_max for s in stats):
        return None
    return min(s.min for s in stats), max(s.max for s in stats)


def _read_all(pyramids: Pyramids, sealed: list[Seg], level: int) -> list[pa.Table | None]:
    """Each segment's pyramid level, read by a few threads (pyarrow decodes without the GIL;
    a 10^8-step run has 200 sidecars)."""
    if len(sealed) < 8:
        return [pyramids.read(Path(p), level) for _, p, _ in sealed]
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda seg: pyramids.read(Path(seg[1]), level), sealed))


def _steps_in(x_range: tuple[float, float] | None) -> str:
    """A filter on the steps in range, as integers (a float literal such as 5e-324 is not
    read back exactly)."""
    if x_range is None:
        return ""
    return f" AND step BETWEEN {math.ceil(x_range[0])} AND {math.floor(x_range[1])}"


def _inside(x_range: tuple[float, float] | None, level: int) -> tuple[int, int] | None:
    """(first, last) start step of the pyramid buckets wholly inside a zoomed range."""
    if x_range is None:
        return None
    lo, hi = math.ceil(x_range[0]), math.floor(x_range[1])  # steps are integers
    return -(-lo // level) * level, ((hi + 1) // level - 1) * level


def downsample_steps(
    idx: Any,
    run_keys: Sequence[str],
    keys: str | Sequence[str] | None,
    buckets: int,
    x_range: tuple[float, float] | None,
    texts: bool,
) -> pa.Table | None:
    """downsample(x="step") from pyramids, or None when they would not help (a range too
    narrow for the finest level, no sealed segment): the caller reads the raw rows."""
    segs = _segments(idx, run_keys)
    extent = _approx_steps(segs)
    if x_range is not None:  # only the segments that hold steps in the range
        extent = x_range
        segs.sealed = segs.touching(x_range)
    level = level_for((extent[1] - extent[0]) / max(buckets, 1)) if extent else None
    if level is None:
        return None
    wanted = [keys] if isinstance(keys, str) else (list(keys) if keys is not None else None)
    pyramids = pyramids_of(idx)
    inside = _inside(x_range, level)
    found = _read_all(pyramids, segs.sealed, level)
    tables: list[pa.Table] = [
        SCHEMA.empty_table().append_column("run_key", pa.array([], pa.string()))
    ]
    summaries: dict[str, tuple[Seg, pa.Table]] = {}
    covered, fallback = [], []
    for seg, table in zip(segs.sealed, found, strict=True):
        if table is None or seg[1] in segs.after:  # (pyramids count the rows cut)
            fallback.append(seg)
            continue
        covered.append(seg)
        tables.append(table.append_column("run_key", pa.repeat(seg[0], table.num_rows)))
        if table.num_rows and table["level"][-1].as_py() == TEXT_LEVEL:  # (its last rows)
            text = table.filter(pc.equal(table.column("level"), TEXT_LEVEL))
            summaries[seg[1]] = (seg, text.append_column("run_key", pa.repeat(seg[0], len(text))))
    everything = pa.concat_tables(tables)
    keep = pc.not_equal(everything.column("level"), TEXT_LEVEL)
    if wanted is not None:
        keep = pc.and_(keep, pc.is_in(everything.column("key"), pa.array(wanted, pa.string())))
    if inside is not None:
        start = pc.multiply(pc.divide(everything.column("step_min"), level), level)
        keep = pc.and_(
            keep, pc.and_(pc.greater_equal(start, inside[0]), pc.less_equal(start, inside[1]))
        )
    units = everything.filter(keep).select(_UNITS.names)
    for path, (seg, text) in list(summaries.items()):
        if wanted is not None:
            text = text.filter(pc.is_in(text.column("key"), pa.array(wanted, pa.string())))
        summaries[path] = (seg, text.select(_TEXTS.names))
    idx.con.register("_pyr_units", units)
    parts = ["SELECT * FROM _pyr_units"]
    rest = _Segments(fallback, segs.open, segs.steps, segs.after)
    rest_view = (
        history_view(idx, run_keys, wanted, "pyr_raw", rest) if fallback or segs.open else None
    )
    in_range = _steps_in(x_range)
    if rest_view:
        parts.append(_RAW_UNITS.format(view=rest_view, numeric=NUMERIC, where=in_range))
    edge_segs = []
    if inside is not None:  # the edges of the range no whole bucket covers
        first, past = inside[0] - 1, inside[1] + level
        edge_segs = _Segments(covered, [], segs.steps).touching(
            (extent[0], first), (past, extent[1])
        )
    if edge_segs:
        edge_view = history_view(idx, run_keys, wanted, "pyr_edge", _Segments(edge_segs, []))
        edges = f"{in_range} AND NOT step BETWEEN {inside[0]} AND {inside[1] + level - 1}"
        parts.append(_RAW_UNITS.format(view=edge_view, numeric=NUMERIC, where=edges))
    idx.con.execute("CREATE OR REPLACE TEMP VIEW pyr_units AS " + " UNION ALL ".join(parts))
    table = _buckets(idx, run_keys, buckets, x_range)
    if texts:
        rest = _Segments(fallback, segs.open, segs.steps, segs.after)
        text = _texts(idx, run_keys, wanted, x_range, summaries, rest, rest_view)
        table = pa.concat_tables([table, text.cast(table.schema)])
    for name in ("_pyr_units", "_pyr_bounds", "_pyr_texts"):
        idx.con.unregister(name)  # (DuckDB: unregistering an unknown name is no error)
    return table


_UNITS = pa.schema(
    [
        ("run_key", pa.string()),
        ("key", pa.string()),
        ("step_min", pa.int64()),
        ("step_max", pa.int64()),
        ("vmin", pa.float64()),
        ("vmax", pa.float64()),
        ("vlast", pa.float64()),
        ("n", pa.int64()),
    ]
)
_TEXTS = pa.schema(
    [
        ("run_key", pa.string()),
        ("key", pa.string()),
        ("step_min", pa.int64()),
        ("step_max", pa.int64()),
        ("last_text", pa.string()),
        ("n", pa.int64()),
    ]
)


def _buckets(
    idx: Any, run_keys: Sequence[str], buckets: int, x_range: tuple[float, float] | None
) -> pa.Table:
    """The chart's numeric buckets from the units: as the raw query buckets steps, with a
    unit counted at its first step."""
    if x_range is not None:
        lo, hi = float(x_range[0]), float(x_range[1])
        bounds = pa.table(
            {"run_key": list(run_keys), "lo": [lo] * len(run_keys), "hi": [hi] * len(run_keys)}
        )
    else:
        bounds = idx.arrow(
            "SELECT run_key, CAST(min(step_min) AS DOUBLE) AS lo, "
            "CAST(max(step_max) AS DOUBLE) AS hi FROM pyr_units GROUP BY run_key"
        )
    idx.con.register("_pyr_bounds", bounds)
    return idx.arrow(
        """
        SELECT u.run_key, u.key,
               CAST(least(floor((u.step_min - b.lo) * ? / greatest(b.hi - b.lo, 1e-9)), ? - 1)
                    AS BIGINT) AS bucket,
               min(u.step_min) AS x_min, max(u.step_max) AS x_max,
               min(u.vmin) FILTER (WHERE NOT isnan(u.vmin)) AS vmin,
               max(u.vmax) FILTER (WHERE NOT isnan(u.vmax)) AS vmax,
               arg_max(u.vlast, u.step_max) AS vlast,
               CAST(NULL AS VARCHAR) AS last_text, CAST(sum(u.n) AS BIGINT) AS n
        FROM pyr_units u JOIN _pyr_bounds b USING (run_key)
        GROUP BY ALL ORDER BY u.run_key, u.key, bucket
        """,
        [buckets, buckets],
    )


def _texts(
    idx: Any,
    run_keys: Sequence[str],
    wanted: list[str] | None,
    x_range: tuple[float, float] | None,
    summaries: dict[str, tuple[Seg, pa.Table]],
    rest: _Segments,
    rest_view: str | None,
) -> pa.Table:
    """One row per metric with non-numeric values (bucket -1), as the raw query gives it:
    from the pyramids' per-segment summaries of the segments wholly in range, and from the
    rows in range of the others (a summary covers its whole segment)."""
    raw = (
        "SELECT run_key, key, step AS step_min, step AS step_max, text AS last_text, "
        "CAST(1 AS BIGINT) AS n FROM {view} WHERE NOT ({numeric}){where}"
    )
    whole, partial = [_TEXTS.empty_table()], []
    for path, (seg, table) in summaries.items():
        span = rest.steps.get(path)
        if x_range is None or (span and x_range[0] <= span[0] and span[1] <= x_range[1]):
            whole.append(table.cast(_TEXTS))
        else:
            partial.append(seg)
    idx.con.register("_pyr_texts", pa.concat_tables(whole))
    source = "SELECT * FROM _pyr_texts"
    view = rest_view
    if partial:
        raw_segs = _Segments(partial + rest.sealed, rest.open, rest.steps, rest.after)
        view = history_view(idx, run_keys, wanted, "pyr_text", raw_segs)
    if view:
        source += " UNION ALL " + raw.format(view=view, numeric=NUMERIC, where=_steps_in(x_range))
    return idx.arrow(
        f"""
        SELECT run_key, key, CAST(-1 AS BIGINT) AS bucket, min(step_min) AS x_min,
               max(step_max) AS x_max, CAST(NULL AS DOUBLE) AS vmin, CAST(NULL AS DOUBLE) AS vmax,
               CAST(NULL AS DOUBLE) AS vlast, arg_max(last_text, step_max) AS last_text,
               CAST(sum(n) AS BIGINT) AS n
        FROM ({source}) GROUP BY ALL
        """
    )
