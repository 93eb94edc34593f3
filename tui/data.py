"""What the UI reads, as plain values: each call opens the index, queries it and closes it.

Called from Textual workers (threads), so nothing here touches widgets, and no DuckDB
connection is shared between threads. `root` is a store's directory, or a RemoteSource
(tui/remote_source.py): the same values read from a team server, so screens do not care.
The runs screen's listing is tui/runs_data.py's (its names are here too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from flightlog.store import RunPaths, StoredRun
from flightlog.store.catalog import RunLookupError, select_runs, values_of
from flightlog.store.index import Index
from flightlog.store.query import downsample, metric_summaries, values_at
from flightlog.store.run_snapshot import open_snapshot, remember

from .runs_data import (  # noqa: F401 (the listing's values, where every screen looks)
    PAGE,
    RunList,
    Source,
    describe_more,
    load_last_look,
    load_runs,
)

STATE_ICON = {"running": "●", "finished": "✓", "failed": "✗", "crashed": "☠"}


def plural(n: int, noun: str) -> str:
    """`1 run`, `2 runs`: counts as a person writes them."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


# metric -> {"x", "last", "min", "max"} (a system metric's also "time": its samples' wall time)
Curves = dict[str, dict[str, list[float]]]
XRange = tuple[float, float]


@dataclass
class RunDetail:
    row: dict[str, Any]
    meta: dict[str, Any]
    config: dict[str, Any]
    summary: dict[str, Any]
    metrics: list[dict[str, Any]]  # key, n, last, last_text, min, max, spark
    curves: Curves  # every numeric metric, downsampled (over x_range when zoomed)
    x_bounds: XRange | None = None  # the whole run's x extent

    @classmethod
    def of(
        cls,
        row: dict[str, Any],
        meta: dict[str, Any],
        config: dict[str, Any],
        summary: dict[str, Any],
        whole: pa.Table,
        zoomed: pa.Table,
    ) -> RunDetail:
        """From the run's downsample() tables, over the whole run (its stats and x extent)
        and over the charts' range (`whole` again when not zoomed): a store's and a
        server's alike."""
        return cls(
            row,
            meta,
            config,
            summary,
            metric_summaries(whole, spark_width=16),
            curves_of(zoomed).get(row["run_key"], {}),
            x_bounds(whole),
        )


def curves_of(table: pa.Table) -> dict[str, Curves]:
    """run_key -> metric -> series, from a downsample() table (numeric buckets only)."""
    out: dict[str, Curves] = {}
    for rec in table.to_pylist():
        if rec["vlast"] is None:
            continue
        c = out.setdefault(rec["run_key"], {}).setdefault(
            rec["key"], {"x": [], "last": [], "min": [], "max": []}
        )
        c["x"].append(rec["x_max"])
        c["last"].append(rec["vlast"])
        c["min"].append(rec["vmin"])
        c["max"].append(rec["vmax"])
    return out


def x_bounds(table: pa.Table) -> XRange | None:
    """The x extent of a downsample() table's numeric buckets (None if it has none)."""
    xs = [x for r in table.to_pylist() if r["vlast"] is not None for x in (r["x_min"], r["x_max"])]
    return (float(min(xs)), float(max(xs))) if xs else None


def load_run(
    root: Path | Source,
    run_key: str,
    x: str = "step",
    buckets: int = 240,
    x_range: XRange | None = None,
) -> RunDetail:
    """Everything the run screen shows, from one index open and one scan of the history
    (two when the charts are zoomed to `x_range`: the table keeps the whole run's stats).

    240 buckets: a braille chart draws 2 points per column, so this is full resolution for
    charts up to 120 columns wide; more only costs query and drawing time."""
    return load_runs_detail(root, [run_key], x, buckets, x_range)[0]


def load_runs_detail(
    root: Path | Source,
    run_keys: list[str],
    x: str = "step",
    buckets: int = 240,
    x_range: XRange | None = None,
) -> list[RunDetail]:
    """`load_run` of each run, from one index open (the compare screen reads its runs every
    2 s while one trains: an open, its catch-up, costs ~30-50 ms)."""
    if isinstance(root, Source):
        return [root.load_run(k, x, buckets, x_range) for k in run_keys]
    with Index(root) as idx:
        details = [_run_detail(idx, root, k, x, buckets, x_range) for k in run_keys]
        remember(idx, run_keys)  # their zooms and cursor need not open the index again
        return details


def _run_detail(
    idx: Index, root: Path, run_key: str, x: str, buckets: int, x_range: XRange | None
) -> RunDetail:
    found = select_runs(idx, run_keys=[run_key])
    if not found:
        raise RunLookupError(f"run {run_key} is no longer in {root}")
    row = found[0]
    meta = json.loads(
        idx.con.execute("SELECT meta FROM runs WHERE run_key = ?", [run_key]).fetchone()[0]
    )
    table = downsample(idx, [run_key], None, buckets=buckets, x=x)
    zoomed = table
    if x_range is not None:
        zoomed = downsample(  # its curves only: no text rows
            idx, [run_key], None, buckets=buckets, x=x, x_range=x_range, texts=False
        )
    return RunDetail.of(
        row,
        meta,
        values_of(idx, "config", [run_key])[run_key],
        values_of(idx, "summary", [run_key])[run_key],
        table,
        zoomed,
    )


def load_curves(
    root: Path | Source,
    run_keys: list[str],
    keys: list[str] | None,
    x: str = "step",
    buckets: int = 240,
    x_range: XRange | None = None,
) -> dict[str, Curves]:
    """run_key -> metric -> series for charts only (a zoom or pan): one downsample of the
    range, none of the run's stats."""
    if isinstance(root, Source):
        return root.load_curves(run_keys, keys, x, buckets, x_range)
    with open_snapshot(root, run_keys) as idx:
        table = downsample(idx, run_keys, keys, buckets=buckets, x=x, x_range=x_range, texts=False)
        return curves_of(table)


@dataclass(frozen=True)
class Reading:
    """One run's stored value under the step cursor, at its logged x nearest the cursor."""

    x: float
    step: int
    time: float
    value: float


def read_cursor(
    root: Path | Source,
    run_keys: list[str],
    keys: list[str],
    at: float,
    x: str = "step",
    window: float | None = None,
) -> dict[str, dict[str, Reading]]:
    """metric -> run_key -> the exact stored value nearest the cursor at x = `at` (looked
    for within `at ± window` first: see store.query.values_at)."""
    if isinstance(root, Source):
        found = root.read_cursor(run_keys, keys, at, x, window)
    else:
        with open_snapshot(root, run_keys) as idx:
            found = values_at(idx, run_keys, keys, at, x=x, window=window).to_pylist()
    out: dict[str, dict[str, Reading]] = {}
    for r in found:
        out.setdefault(r["key"], {})[r["run_key"]] = Reading(
            r["x"], r["step"], r["time"], r["value"]
        )
    return out


def load_system(root: Path | Source, run_key: str, limit: int = 2000) -> Curves:
    """The run's system-metrics stream as chart series against seconds since its start.

    Samples come every few seconds, so even a long run has few: read directly, the last
    `limit` of them."""
    if isinstance(root, Source):
        return root.load_system(run_key, limit)
    stored = StoredRun.load(RunPaths.of_key(root, run_key))
    if stored is None:
        return {}
    return system_curves(stored.history(stream="system"), limit)


def system_curves(table: pa.Table, limit: int) -> Curves:
    """The last `limit` samples of a wide system-metrics table, against `_runtime` (each
    series also keeps the samples' wall `time`: the step cursor finds a sample by it)."""
    if table.num_rows == 0:
        return {}
    table = table.slice(max(0, table.num_rows - limit))
    x = table.column("_runtime").to_pylist()
    times = table.column("_timestamp").to_pylist()
    out: Curves = {}
    for name in table.column_names:
        if name.startswith("_"):
            continue
        values = table.column(name).to_pylist()
        if all(isinstance(v, int | float) or v is None for v in values):
            ys = [float(v) if v is not None else None for v in values]
            out[name] = {"x": x, "last": ys, "min": ys, "max": ys, "time": times}
    return out


def read_console(
    root: Path | Source, run_key: str, offset: int = 0, limit: int = 1 << 20
) -> tuple[str, int]:
    """New text of the run's files/output.log from byte `offset`: (text, next offset)."""
    if isinstance(root, Source):
        return root.read_console(run_key, offset, limit)
    path = RunPaths.of_key(root, run_key).files / "output.log"
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            start = max(offset, size - limit)  # a huge log: its last MiB
            f.seek(start)
            data = f.read()
    except OSError:
        return "", offset
    return data.decode("utf-8", errors="replace"), start + len(data)
