"""The segment listing of runs that no longer write, kept from an index open, so that a
chart's zoom or cursor reads their history without opening the index again.

Opening the index (attaching its DuckDB file, catching up, copying its tables) costs ~100-150
ms on a busy machine: most of a zoom's 200 ms. A run that is not running and has only sealed
segments adds no rows, so its rows of the index's `segments` table (segments whose sha256 the
index verified, damage noted) stay true; a `Snapshot` of them answers store.query's
`downsample` and `values_at` exactly as the index would. Other runs are never kept (a
running writer's open segments are sealed and renamed while it runs, and so are a crashed
one's by whoever recovers them): their charts open the index every time, as before.

A kept run is trusted only while its history directory holds exactly the kept segments: a
finished run resumed (a writer adds its journal or open segment there before any of its rows
can be read) or a segment moved aside by `doctor` makes the next read open the index again,
and tells a screen showing the run to reload it (`changed`). Sealed segments never change in
place, so a listing of names is enough (no mtime, whose coarse ticks can hide a change).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .index import SEGMENTS, Index
from .liveness import RUNNING

_kept: dict[tuple[str, str], list[tuple[Any, ...]]] = {}  # (root, run key) -> segment rows
_lock = threading.Lock()
_MAX_RUNS = 256


def remember(idx: Index, run_keys: Sequence[str]) -> None:
    """Keep the segment rows of those of `run_keys` that are not running and whose segments
    are all sealed (forget the rest)."""
    states = dict(
        idx.con.execute(
            "SELECT run_key, state FROM runs WHERE run_key IN (SELECT unnest(?::VARCHAR[]))",
            [list(run_keys)],
        ).fetchall()
    )
    rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k, s in states.items() if s != RUNNING}
    if rows:
        for row in idx.con.execute(
            "SELECT * FROM segments WHERE run_key IN (SELECT unnest(?::VARCHAR[]))",
            [list(rows)],
        ).fetchall():
            rows[row[0]].append(row)
    for k in [k for k, segs in rows.items() if not all(seg[5] for seg in segs)]:
        del rows[k]  # an open segment (a crashed writer's) may be sealed, renamed, any time
    for k in [k for k, segs in rows.items() if not _current(idx.root, k, segs)]:
        del rows[k]  # resumed since the index listed it
    root = str(idx.root)
    with _lock:
        for k in run_keys:
            _kept.pop((root, k), None)
        if len(_kept) + len(rows) > _MAX_RUNS:
            _kept.clear()
        _kept.update(((root, k), v) for k, v in rows.items())


def changed(root: Path | str, run_key: str) -> bool:
    """Whether a kept run is no longer what was kept (resumed, or a segment moved aside): its
    screen reloads it (and the kept rows are dropped). False for a run not kept."""
    key = (str(root), run_key)
    with _lock:
        rows = _kept.get(key)
    if rows is None or _current(Path(root), run_key, rows):
        return False
    with _lock:
        _kept.pop(key, None)
    return True


def _current(root: Path, run_key: str, rows: list[tuple[Any, ...]]) -> bool:
    """Whether the run's history directory holds exactly the segments of `rows` (index rows:
    paths relative to the root): no journal, no other segment (names starting with '.' are
    a sealer's temp files). One listing, no parsing: 2 ms at 1,000 segments, busy machine."""
    base = f"runs/{run_key}/history/"
    try:
        names = os.listdir(root / base)
    except (FileNotFoundError, NotADirectoryError):
        names = []
    now = {n for n in names if not n.startswith(".")}
    return now == {row[1][len(base) :] for row in rows if row[1].startswith(base)}


_db: duckdb.DuckDBPyConnection | None = None


def _database() -> duckdb.DuckDBPyConnection:
    """One in-memory database per process: `duckdb.connect()` costs 90-160 ms on a busy
    2-core machine, a cursor (a new connection to it, for one thread) nothing measurable."""
    global _db
    with _lock:
        if _db is None:
            _db = duckdb.connect()
        return _db


class Snapshot:
    """What store.query reads of an Index (`con`, `root`, `arrow()`, a `segments` table),
    over the kept rows of some runs."""

    def __init__(self, root: Path, rows: list[tuple[Any, ...]]) -> None:
        self.root = root
        self.con = _database().cursor()  # a connection of its own: temp tables and views
        self.con.execute(f"CREATE TEMP TABLE segments {SEGMENTS}")
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            self.con.executemany(f"INSERT INTO segments VALUES ({marks})", rows)

    def arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        return self.con.sql(sql, params=params).to_arrow_table()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_snapshot(root: Path | str, run_keys: Sequence[str]) -> Snapshot | Index:
    """A Snapshot if every run of `run_keys` is kept, else the index (opened, caught up, and
    its runs that no longer write kept for next time)."""
    root = Path(root)
    with _lock:
        kept = [_kept.get((str(root), k)) for k in run_keys]
    if run_keys and all(
        rows is not None and _current(root, k, rows) for k, rows in zip(run_keys, kept, strict=True)
    ):
        return Snapshot(root, [row for rows in kept if rows for row in rows])
    idx = Index(root)
    remember(idx, run_keys)
    return idx
