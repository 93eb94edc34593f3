"""History queries in DuckDB over the segment files of an Index.

Sealed segments are scanned by DuckDB's Parquet reader directly (projection and filter
pushdown: only the needed columns, keys and runs are read). Open segments, which DuckDB cannot
read without a network-installed extension, are read by pyarrow (torn-tail tolerant) and
handed to DuckDB as Arrow tables.

DuckDB does not check Parquet page checksums, so only sealed files whose sha256 the index
verified are scanned; a damaged one is skipped with a warning naming it, and so is a damaged
batch of an open segment. Files removed since the index was read (a deleted run) are no error.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from .index import Index
from .layout import parse_segment_name
from .liveness import RUNNING
from .recovered_overlap import held_elsewhere
from .schema import WRITER_LABEL_KEY
from .segments import read_segments
from .text import sparkline

HISTORY_COLUMNS = "run_key, writer, step, time, key, value, kind, text"


@dataclass
class _Segments:
    sealed: list[tuple[str, str, str]]  # (run_key, absolute path, label)
    #: (run_key, history directory, stems of its sealed segments the index lists) whose rows
    #: the sealed files may lack: runs with an open segment, and running runs (a writer's
    #: first rows are in its journal only)
    open: list[tuple[str, str, frozenset[str]]]
    #: absolute path -> (step min, max) of a sealed segment, where the index knows it
    steps: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: absolute path -> the step up to which a sealed segment's rows are read from others
    #: (a recovered segment the writer's own seals overlap: store/recovered_overlap.py)
    after: dict[str, int] = field(default_factory=dict)

    def touching(self, *ranges: tuple[float, float]) -> list[tuple[str, str, str]]:
        """The sealed segments that may hold steps in any of `ranges` (unknown: they may)."""
        return [
            seg
            for seg in self.sealed
            if (span := self.steps.get(seg[1])) is None
            or any(lo <= span[1] and span[0] <= hi for lo, hi in ranges if lo <= hi)
        ]


def _segments(idx: Index, run_keys: Sequence[str] | None) -> _Segments:
    """The segments to scan: sealed ones that passed the index's sha256 check and still exist
    (a run deleted since the index was read is no error), and every open one."""
    sql = (
        "SELECT run_key, path, coalesce(nullif(label, ''), writer), sealed, damage, step_min, "
        "step_max, writer, seq FROM segments"
    )
    params: list[object] = []
    if run_keys is not None:
        sql += " WHERE run_key IN (SELECT unnest(?::VARCHAR[]))"
        params.append(list(run_keys))
    out = _Segments([], [])
    dirs: dict[str, str] = {}  # history directory -> run_key
    indexed: dict[str, set[str]] = {}  # history directory -> stems of its sealed segments
    rows = idx.con.execute(sql + " ORDER BY path", params).fetchall()
    overlaps = held_elsewhere(
        (r[1], f"{r[0]}/{r[7]}", r[8], r[5], r[6]) for r in rows if r[3] and not r[4]
    )
    for run_key, rel, label, sealed, damage, step_min, step_max, _, _ in rows:
        path = str(idx.root / rel)
        if sealed and (seg_name := parse_segment_name(os.path.basename(path))) is not None:
            indexed.setdefault(os.path.dirname(path), set()).add(seg_name.stem)
        if damage:
            warnings.warn(f"flightlog: skipping {damage}", stacklevel=3)
        elif not sealed:
            dirs.setdefault(os.path.dirname(path), run_key)
        elif rel in overlaps and (after := overlaps[rel]) is None:
            continue  # every row held by the writer's other segments
        elif os.path.exists(path):
            out.sealed.append((run_key, path, label))
            if rel in overlaps:
                out.after[path] = after
            if step_min is not None and step_max is not None:
                out.steps[path] = (step_min, step_max)
    for run_key, run_dir in _running(idx, run_keys):
        dirs.setdefault(str(idx.root / run_dir / "history"), run_key)
    out.open = [(run_key, d, frozenset(indexed.get(d, ()))) for d, run_key in dirs.items()]
    return out


def _running(idx: Index, run_keys: Sequence[str] | None) -> list[tuple[str, str]]:
    """(run_key, run directory) of the running runs: a writer's newest rows may be in its
    journal only, which the index does not list while the writer runs (its state file has
    its progress). Only an Index knows: a kept Snapshot holds no running run, and a server's
    one-run read has only uploaded, sealed segments."""
    if not isinstance(idx, Index):
        return []
    sql = "SELECT run_key, dir FROM runs WHERE state = ?"
    params: list[object] = [RUNNING]
    if run_keys is not None:
        sql += " AND run_key IN (SELECT unnest(?::VARCHAR[]))"
        params.append(list(run_keys))
    return idx.con.execute(sql, params).fetchall()


def history_view(
    idx: Index,
    run_keys: Sequence[str] | None = None,
    keys: Sequence[str] | None = None,
    name: str = "h",
    segs: _Segments | None = None,
    steps: tuple[float, float] | None = None,
) -> str:
    """Create (or replace) a temp view `name` with HISTORY_COLUMNS; returns its name.
    `segs`: only these segments (default: every readable one of `run_keys`); `steps`: only
    the sealed ones that may hold steps in that range (a zoomed chart of a long run)."""
    segs = _segments(idx, run_keys) if segs is None else segs
    if steps is not None:
        segs = _Segments(segs.touching(steps), segs.open, segs.steps, segs.after)
    parts = []
    key_filter = ""
    params: list[object] = []
    if keys is not None:
        key_filter = " WHERE key IN (SELECT unnest(?::VARCHAR[]))"
    if segs.sealed:
        files = pa.table(
            {
                "filename": [p for _, p, _ in segs.sealed],
                "run_key": [k for k, _, _ in segs.sealed],
                "writer": [w for _, _, w in segs.sealed],
                "after": pa.array([segs.after.get(p) for _, p, _ in segs.sealed], pa.int64()),
            }
        )
        idx.con.register(f"_{name}_files", files)
        paths = "[" + ", ".join("'" + p.replace("'", "''") + "'" for _, p, _ in segs.sealed) + "]"
        where = [key_filter.replace(" WHERE key", "p.key", 1)] if key_filter else []
        if segs.after:
            where.append("(f.after IS NULL OR p.step > f.after)")
        parts.append(
            f"SELECT f.run_key, f.writer, p.step, epoch(p.time) AS time, p.key, p.value, "
            f"p.kind, p.text FROM read_parquet({paths}, filename=true) p "
            f"JOIN _{name}_files f USING (filename)"
            + (" WHERE " + " AND ".join(where) if where else "")
        )
        if keys is not None:
            params.append(list(keys))
    tables = _unindexed_rows(segs.open, keys)
    if tables:
        idx.con.register(f"_{name}_open", pa.concat_tables(tables))
        parts.append(
            f"SELECT run_key, writer, step, epoch(time) AS time, key, value, kind, text "
            f"FROM _{name}_open"
        )
    if not parts:
        parts.append(
            "SELECT NULL::VARCHAR AS run_key, NULL::VARCHAR AS writer, NULL::BIGINT AS step, "
            "NULL::DOUBLE AS time, NULL::VARCHAR AS key, NULL::DOUBLE AS value, "
            "NULL::TINYINT AS kind, NULL::VARCHAR AS text WHERE false"
        )
    # DuckDB cannot bind parameters in a view: inline the key list as a literal
    sql = " UNION ALL ".join(parts)
    if params:
        literal = "[" + ", ".join("'" + k.replace("'", "''") + "'" for k in keys or []) + "]"
        sql = sql.replace("?::VARCHAR[]", literal + "::VARCHAR[]")
    idx.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
    return name


def _unindexed_rows(
    open_dirs: list[tuple[str, str, frozenset[str]]], keys: Sequence[str] | None
) -> list[pa.Table]:
    """The rows of the history directories `open_dirs` that the index's sealed files lack
    (open segments, journals, segments sealed since the index listed them), with `run_key`
    and `writer` columns.

    Read by `read_segments` with the sealed files the index lists left to DuckDB: a journal
    is cut by the segments this query reads. Cut by the segments on disk, the rows of a
    journal sealed between the index's listing and this read were in neither part."""
    tables = []
    for run_key, history_dir, indexed in open_dirs:
        for name, t in read_segments(Path(history_dir), keys, read_elsewhere=indexed):
            label = ((t.schema.metadata or {}).get(WRITER_LABEL_KEY) or b"").decode()
            t = t.replace_schema_metadata(None)
            t = t.append_column("run_key", pa.repeat(run_key, len(t)))
            tables.append(t.append_column("writer", pa.repeat(label or name.writer, len(t))))
    return tables


def _x_view(
    idx: Index,
    run_keys: Sequence[str],
    keys: str | Sequence[str] | None,
    x: str,
    x_range: tuple[float, float] | None = None,
) -> tuple[str, str]:
    """The history of `run_keys` (only `keys`, if given) with an x column: (view, x column).

    x is "step", "time" (wall clock) or "metric:KEY" (another metric logged at the same
    steps, e.g. "metric:tokens")."""
    x_metric = x[len("metric:") :] if x.startswith("metric:") else None
    if x not in ("step", "time") and not x_metric:
        raise ValueError(f"x must be 'step', 'time' or 'metric:KEY', got {x!r}")
    wanted = [keys] if isinstance(keys, str) else (list(keys) if keys is not None else None)
    if x_metric and wanted is not None:
        wanted.append(x_metric)
    steps = x_range if x == "step" else None  # a zoomed step chart: its segments only
    view = history_view(idx, run_keys, wanted, name="ds", steps=steps)
    if not x_metric:
        return view, x
    # each value paired with the x metric logged at the same step by its writer
    lit = "'" + x_metric.replace("'", "''") + "'"
    idx.con.execute(
        f"CREATE OR REPLACE TEMP VIEW dsx AS SELECT d.*, xm.xv FROM {view} d JOIN "
        f"(SELECT run_key, writer, step, value AS xv FROM {view} WHERE key = {lit} AND "
        f"{NUMERIC}) xm USING (run_key, writer, step)"
    )
    return "dsx", "xv"


NUMERIC = "kind IN (0, 1, 2) AND value IS NOT NULL"


def downsample(
    idx: Index,
    run_keys: Sequence[str],
    keys: str | Sequence[str] | None = None,
    buckets: int = 500,
    x: str = "step",
    x_range: tuple[float, float] | None = None,
    texts: bool = True,
) -> pa.Table:
    """Per run and metric, `buckets` buckets along x: min, max, last, count.

    x is "step", "time" (wall clock) or "metric:KEY" (another metric logged at the same
    steps, e.g. "metric:tokens").

    One scan serves any number of metrics (`keys=None`: all of them); buckets span the run's
    whole x range, so metrics logged at different rates line up. min and max keep spikes
    visible however long the run is; `last` is what a line through the buckets shows. NaN and
    non-numeric values do not count towards min and max; `last_text` is the last text value
    (string metrics, and ints beyond 2**53).

    `x_range=(lo, hi)` buckets only that range (a zoomed chart): the same number of buckets
    over a narrower span, so detail hidden at full range comes back, down to single steps.
    The range is a filter on the scan (Parquet row groups outside it are skipped).
    `texts=False` leaves out the non-numeric rows (charts draw none): one scan fewer.

    x="step" over a range wide enough (>= 128 steps a bucket) reads the sealed segments'
    pyramids (store/pyramid_query.py) instead of their rows: the same columns, each bucket
    exact over the steps it reports, its edges within 1/8 of a bucket of these.
    """
    if x_range is not None and not float(x_range[0]) <= float(x_range[1]):
        raise ValueError(f"x_range must be (low, high), got {x_range!r}")
    if x == "step":  # a long run's sealed segments answer from their pyramids
        from .pyramid_query import downsample_steps  # (it builds on this module)

        found = downsample_steps(idx, run_keys, keys, buckets, x_range, texts)
        if found is not None:
            return found
    # (`+ 0 * random()` below: DuckDB 2.0 folds isnan() of a Parquet column to false when
    # the file's statistics, which skip NaN, hold numbers; a NaN became a bucket's max)
    view, x = _x_view(idx, run_keys, keys, x, x_range)
    in_range = h_in_range = ""  # a zoomed range: on the view's x, and on the joined h.x
    if x_range is not None:
        lo, hi = float(x_range[0]), float(x_range[1])
        between = f" BETWEEN {lo!r} AND {hi!r}"
        in_range, h_in_range = f" AND {x}{between}", f" AND h.{x}{between}"
        bounds = pa.table(
            {"run_key": list(run_keys), "lo": [lo] * len(run_keys), "hi": [hi] * len(run_keys)}
        )
    else:
        # the x range of each run first (one cheap pass), so that the bucketing pass joins a
        # handful of rows instead of re-aggregating the history: 2x faster on 1M steps
        bounds = idx.arrow(
            f"SELECT run_key, CAST(min({x}) AS DOUBLE) AS lo, "
            f"CAST(max({x}) AS DOUBLE) AS hi FROM {view} WHERE {NUMERIC} "
            "GROUP BY run_key"
        )
    idx.con.register("_ds_bounds", bounds)
    buckets_table = idx.arrow(
        f"""
        SELECT h.run_key, h.key,
               CAST(least(floor((h.{x} - b.lo) * ? / greatest(b.hi - b.lo, 1e-9)), ? - 1)
                    AS BIGINT) AS bucket,
               min(h.{x}) AS x_min, max(h.{x}) AS x_max,
               min(h.value) FILTER (WHERE NOT isnan(h.value + 0 * random())) AS vmin,
               max(h.value) FILTER (WHERE NOT isnan(h.value + 0 * random())) AS vmax,
               arg_max(h.value, h.step) AS vlast, CAST(NULL AS VARCHAR) AS last_text,
               count(*) AS n
        FROM {view} h JOIN _ds_bounds b USING (run_key)
        WHERE h.kind IN (0, 1, 2) AND h.value IS NOT NULL{h_in_range}
        GROUP BY ALL ORDER BY h.run_key, h.key, bucket
        """,
        [buckets, buckets],
    )
    if not texts:
        idx.con.unregister("_ds_bounds")
        return buckets_table
    # non-numeric values (strings, None, huge ints): one row per metric, bucket -1
    text_rows = idx.arrow(
        f"""
        SELECT run_key, key, CAST(-1 AS BIGINT) AS bucket, min({x}) AS x_min,
               max({x}) AS x_max, CAST(NULL AS DOUBLE) AS vmin, CAST(NULL AS DOUBLE) AS vmax,
               CAST(NULL AS DOUBLE) AS vlast, arg_max(text, step) AS last_text,
               count(*) AS n
        FROM {view} WHERE NOT ({NUMERIC}){in_range} GROUP BY ALL
        """
    )
    idx.con.unregister("_ds_bounds")
    return pa.concat_tables([buckets_table, text_rows.cast(buckets_table.schema)])


def values_at(
    idx: Index,
    run_keys: Sequence[str],
    keys: Sequence[str],
    at: float,
    x: str = "step",
    window: float | None = None,
) -> pa.Table:
    """Per run and metric, the stored value at the logged x nearest to `at` (a chart's step
    cursor): run_key, key, x, step, time, value. Exact values, not a bucket's min or max; a
    metric logged every 10 steps answers with its own nearest step. Ties go to the earlier.

    `window` (e.g. a chart's bucket width) reads only x within `at ± window` first (Parquet
    row groups outside it are skipped: ~10x faster on a 1M-step run): a point found there
    is the nearest overall. Runs and metrics with none in it fall back to the whole history."""
    view, xcol = _x_view(idx, run_keys, keys, x)
    at = float(at)
    near = f"(abs({xcol} - {at!r}), step)"
    select = (
        f"SELECT run_key, key, arg_min({xcol}, {near}) AS x, arg_min(step, {near}) AS step, "
        f"arg_min(time, {near}) AS time, arg_min(value, {near}) AS value FROM {view} "
        f"WHERE {NUMERIC}"
    )
    group = " GROUP BY run_key, key ORDER BY run_key, key"
    if window is None:
        return idx.arrow(select + group)
    lo, hi = at - abs(window), at + abs(window)
    found = idx.arrow(f"{select} AND {xcol} BETWEEN {lo!r} AND {hi!r}{group}")
    have = set(
        zip(found.column("run_key").to_pylist(), found.column("key").to_pylist(), strict=True)
    )
    missing = {(r, k) for r in run_keys for k in keys} - have
    if not missing:
        return found
    rest = idx.arrow(
        f"{select} AND (run_key, key) IN (SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]))"
        f"{group}",
        [[r for r, _ in missing], [k for _, k in missing]],
    )
    return pa.concat_tables([found, rest.cast(found.schema)])


def metric_summaries(buckets: pa.Table, spark_width: int = 24) -> list[dict[str, Any]]:
    """Per metric of a downsample() table (one run): n, last, min, max and a sparkline."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for rec in buckets.to_pylist():
        by_key.setdefault(rec["key"], []).append(rec)
    out = []
    for key, recs in sorted(by_key.items()):
        numeric = [r for r in recs if r["vlast"] is not None]
        mins = [r["vmin"] for r in numeric if r["vmin"] is not None]
        maxs = [r["vmax"] for r in numeric if r["vmax"] is not None]
        step = max(1, len(numeric) // spark_width)
        out.append(
            {
                "key": key,
                "n": sum(r["n"] for r in recs),
                "last": numeric[-1]["vlast"] if numeric else None,
                "last_text": next((r["last_text"] for r in recs if r["last_text"]), None),
                "min": min(mins) if mins else None,
                "max": max(maxs) if maxs else None,
                "spark": sparkline([r["vlast"] for r in numeric[step - 1 :: step]]),
            }
        )
    return out


def create_sql_views(idx: Index) -> None:
    """The documented views of `flightlog sql`: runs, history, config, summary."""
    history_view(idx, None, None, name="history")
