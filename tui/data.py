"""What the UI reads, as plain values: each call opens the index, queries it and closes it.

Called from Textual workers (threads), so nothing here touches widgets, and no DuckDB
connection is shared between threads. `root` is a store's directory, or a RemoteSource
(tui/remote_source.py): the same values read from a team server, so screens do not care.
Opening the index is its catch-up: on the 1,000-run benchmark store it costs ~50 ms when
nothing changed, so the runs screen's refresh of a store whose stamps show no change (and
no run running) shows its last listing again instead (`load_runs`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from flightlog.store import RunPaths, StoredRun
from flightlog.store.catalog import (
    RunLookupError,
    common_summary_keys,
    count_runs,
    select_runs,
    values_of,
)
from flightlog.store.catch_up import BATCH
from flightlog.store.index import INDEX_FILE, Index
from flightlog.store.liveness import RUNNING
from flightlog.store.query import downsample, metric_summaries, values_at
from flightlog.store.run_snapshot import open_snapshot, remember
from flightlog.store.scan import Stamp, unchanged_since


class Source:
    """Where the UI reads from when it is not a store's directory (tui/remote_source.py):
    each function below hands its call to the source's method of the same name."""


STATE_ICON = {"running": "●", "finished": "✓", "failed": "✗", "crashed": "☠"}


def plural(n: int, noun: str) -> str:
    """`1 run`, `2 runs`: counts as a person writes them."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass
class RunList:
    """The runs screen's rows (already filtered and sorted) and its metric columns."""

    rows: list[dict[str, Any]]
    metrics: list[str]
    summaries: dict[str, dict[str, Any]]
    loaded_at: float = field(default_factory=time.time)
    #: runs matching, when `rows` is only the first pages of them (a server's listing)
    total: int | None = None
    #: the server sort `rows` already come in (a server's listing), None when unsorted
    sorted_by: str | None = None
    #: runs of the store whose segments are not described yet (`describe_more`)
    partial: int = 0

    def shows_the_same(self, other: RunList) -> bool:
        """Whether two listings show the same (the time each was loaded aside)."""
        fields = ("rows", "metrics", "summaries", "total", "sorted_by")
        return all(getattr(self, f) == getattr(other, f) for f in fields)


#: runs a listing loads at a time: what paints first, and all a store of 100,000 runs holds in
#: memory until the user scrolls past it (the same page as a server's, tui/remote_source.py)
PAGE = 500


def load_runs(
    root: Path | Source,
    where: str | None,
    sort: str | None,
    metrics: list[str] | None = None,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunList:
    """The first `limit` runs (at least one page, whole pages) matching `where`, in the
    order of `sort` (a catalog sort: run field, summary.KEY, config.KEY, `-` descending;
    None: by start). DuckDB filters and sorts, so the first page of a store of 10,000 runs
    holds its best runs and costs what a store of 500 does; `RunList.total` says how many
    match. A listing that holds every match says it is unsorted: the screen sorts it.
    `progress(done, total)` follows a first build of the store's index (it may raise to
    stop it: what was built is kept); that build describes the segments of the runs shown
    only (`RunList.partial`: how many it left for `describe_more`)."""
    if isinstance(root, Source):
        return root.load_runs(where, sort, metrics, limit)
    wanted = _whole_pages(limit)
    asked = (where, sort, tuple(metrics or ()), wanted)
    with _LAST_LOCK:
        last = _LAST.get(str(root))
    if last is not None and last[0] == asked and unchanged_since(root, last[1]):
        return last[2]  # the refresh of a store that did not change: its stats only
    with Index(root, progress=progress, lazy=True) as idx:
        runs = _listing(idx, where, sort, metrics, wanted)
        steady = _steady(idx)
    with _LAST_LOCK:
        if steady:
            _LAST[str(root)] = (asked, idx.stamps, runs)
        else:
            _LAST.pop(str(root), None)
    return runs


def load_last_look(
    root: Path | Source,
    where: str | None,
    sort: str | None,
    metrics: list[str] | None = None,
    limit: int | None = None,
) -> RunList | None:
    """`load_runs` as the store's index saw it last, without a look at the files: what a
    big store paints at once, before the stat pass of its catch-up (seconds at 10,000 runs
    on a cold disk) tells what changed since. None when there is no such listing (a
    server, or a store whose index was never built: its first build shows progress)."""
    if isinstance(root, Source) or not (root / INDEX_FILE).is_file():
        return None
    with Index(root, fresh=False, lazy=True) as idx:
        if idx.con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0:
            return None
        return _listing(idx, where, sort, metrics, _whole_pages(limit))


def describe_more(root: Path | Source) -> int:
    """Describe the segments of up to a batch of the runs a first build left partial (in
    the background, after the listing showed); returns how many are left."""
    if isinstance(root, Source):
        return 0
    with Index(root, lazy=True) as idx:
        todo = idx.con.execute(
            "SELECT run_key FROM runs WHERE partial ORDER BY run_key LIMIT ?", [BATCH]
        ).fetchall()
        if todo:
            idx.complete([k for (k,) in todo])
        return idx.partial


def _whole_pages(limit: int | None) -> int:
    return max(1, -(-(limit or 0) // PAGE)) * PAGE


def _listing(
    idx: Index, where: str | None, sort: str | None, metrics: list[str] | None, wanted: int
) -> RunList:
    rows = select_runs(idx, where=where, sort=sort, limit=wanted)
    total = len(rows) if len(rows) < wanted else count_runs(idx, where=where)
    keys = [r["run_key"] for r in rows]
    chosen = metrics if metrics else common_summary_keys(idx, keys, limit=3)
    partial = total > len(rows)
    summaries = values_of(idx, "summary", keys)
    sorted_by = sort if partial else None
    return RunList(rows, chosen, summaries, total=total, sorted_by=sorted_by, partial=idx.partial)


def _steady(idx: Index) -> bool:
    """Whether the index's answers change only when the files do: not while a run is
    running (its state follows its process, which no stat sees die), nor while a run with
    neither an end nor a last row has a duration that runs up to now, nor while runs are
    partial (described in the background)."""
    (n,) = idx.con.execute(
        "SELECT count(*) FROM runs WHERE state = ? OR partial "
        "OR (ended_at IS NULL AND last_time IS NULL)",
        [RUNNING],
    ).fetchone()
    return n == 0


#: store -> (what was asked, the runs' stamps then, the answer): the last listing, which a
#: refresh of an unchanged store shows again after a stat pass instead of opening the
#: index and querying it (~5% of a core every 2 s at 1,000 runs)
_LAST: dict[str, tuple[tuple[Any, ...], dict[str, Stamp], RunList]] = {}
_LAST_LOCK = threading.Lock()


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
