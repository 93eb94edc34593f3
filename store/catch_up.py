"""Catching an index up with its store's files, by stamps, in batches, in two tiers.

Catch-up compares each run's stamp (store/scan.py: its directories' mtimes; two stats for a
finished run, three for a live one) with what the index saw last time and lists and
re-reads only runs that changed, so a store that gained one run costs one run's work plus
a stat per run. A cold build inserts a batch of runs at a time, so an interrupted one
resumes where it stopped. A listing's cold build describes each run's run.json and state
only (partial runs, store/index_tables.py) and their segments later (`complete`); the runs
whose start it can tell without listing them (their projects' ledgers, else their run.json
alone: store/run_ledger.py) it does not even list: they are stubs, known by key and start,
described when a query needs them (store/catalog.py).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from .fan_out import fan_out_if_slow
from .index_tables import (
    NAMES,
    SEGMENT_TABLES,
    TABLES,
    Rows,
    read_files,
    read_stamps,
    read_stubs,
    runs_update,
    stamp_row,
    write_rows,
)
from .live_runs import LiveRun, files_of, hold_back, remember_written
from .run_ledger import read_ledger, start_in_run_json
from .scan import Defer, Files, Scan, Stamp, scan_runs, scan_store
from .write_behind import WriteBehind

if TYPE_CHECKING:  # (loaded when a catch-up writes: one that finds nothing changed needs none)
    import pyarrow as pa

#: runs described between two inserts of a cold build (what an interruption loses at most)
BATCH = 500
#: a listing's catch-up (`lazy`) that finds more changed runs than this describes their
#: run.json and state only, and their segments only for the runs it shows: a cold build of
#: 10,000 runs answers its first page without opening 10,000 Parquet files
LAZY_OVER = 200
#: where a `runs` row holds its state (what a new stamp needs)
_STATE = NAMES["runs"].index("state")
#: the `runs` columns `complete` sets (its update table's: run_key first, partial last)
_COMPLETED = ("run_key", "steps", "values", "last_time", "warnings", "partial")


@dataclass
class CatchUp:
    """What one catch-up did (for `flightlog index`, doctor and the benchmark)."""

    runs_seen: int = 0
    runs_indexed: int = 0
    runs_removed: int = 0
    segments_read: int = 0
    seconds: float = 0.0
    source: str = "file"  # "file", "read-only", "memory"


#: the `runs` columns that do not come from run.json: all a run described again with the run.json
#: the index holds sets (its other columns and its config rows stay: two statements less a
#: live refresh, and a third of the write-ahead log it leaves)
_VOLATILE = (
    "run_key",
    "state",
    "ended_at",
    "last_time",
    "steps",
    "values",
    "error",
    "writers",
    "warnings",
    "sync",
    "partial",
)
_VOLATILE_AT = [NAMES["runs"].index(c) for c in _VOLATILE]


def _same_meta(
    batch: list[str], known: dict[str, Files], listed: dict[str, Files], rows: Rows
) -> set[str]:
    """The runs of `batch` described again (a `runs` row in `rows`) whose run.json is the one
    the index described (same size and mtime: it is replaced whole, never edited in place).
    (A run whose description failed leaves its run.json out of its files: store/describe.py.)"""
    described = {r[0] for r in rows["runs"]}
    out = set()
    for k in batch:
        path = f"runs/{k}/run.json"
        was = known.get(k, {}).get(path)
        if k in described and was is not None and was == listed[k].get(path):
            out.add(k)
    return out


def _volatile(rows: Rows, kept: set[str]) -> pa.Table:
    """Take the `kept` runs' `runs` and `config` rows out of `rows`: their columns that do
    not come from run.json, as write_rows' `update` table."""
    mine = [r for r in rows["runs"] if r[0] in kept]
    rows["runs"] = [r for r in rows["runs"] if r[0] not in kept]
    rows["config"] = [r for r in rows["config"] if r[0] not in kept]
    return runs_update(_VOLATILE, [tuple(r[i] for i in _VOLATILE_AT) for r in mine])


@dataclass
class Left:
    """What a whole-store catch-up left in the index file: every run's stamp, and the files
    of the runs it will list again (open ones: runs training). A reader that finds the file
    as it left it (`recall`) reads neither again: two statements less a live refresh."""

    stamps: dict[str, Stamp]
    files: dict[str, Files]
    #: the training runs this process wrote last, and their descriptions it held back
    #: (store/live_runs.py): the file holds their files as written, not as `stamps` say
    live: dict[str, LiveRun] = field(default_factory=dict)
    #: the runs the file holds as stubs (store/index_tables.py), and their starts
    stubs: dict[str, float] = field(default_factory=dict)


def _signature(path: Path) -> tuple[tuple[int, int, int, int] | None, ...]:
    """The index file's and its write-ahead log's identity, size and times: any write by
    any process (a commit appends to the log, a checkpoint rewrites the file) changes it."""
    out = []
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            st = p.stat()
            out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        except FileNotFoundError:
            out.append(None)
    return tuple(out)


#: index file -> (its signature when this process detached it, what it held then)
_LEFT: dict[str, tuple[tuple[Any, ...], Left]] = {}
_LEFT_LOCK = threading.Lock()


def remember(path: Path, left: Left | None) -> None:
    """After detaching `path` (its file lock still held by this thread): what it holds now."""
    with _LEFT_LOCK:
        if left is None:
            _LEFT.pop(str(path), None)
        else:
            _LEFT[str(path)] = (_signature(path), left)


def recall(path: Path) -> Left | None:
    """After attaching `path`: what this process left in it, if nothing wrote to it since."""
    with _LEFT_LOCK:
        hit = _LEFT.get(str(path))
    return hit[1] if hit is not None and hit[0] == _signature(path) else None


def _starts(root: Path, stubs: dict[str, float]) -> Defer:
    """A first build's `defer` (store/scan.py): when more than LAZY_OVER runs have no stamp,
    their starts, unlisted: the index's for those it holds as stubs already (`stubs`: a
    later listing reads no ledger again), else from their projects' ledgers (each read
    once), else from their run.json alone (one read instead of a run's ~8: a store written
    before ledgers; on threads if they wait for the disk). A run whose start none gives is
    listed."""

    def defer(new: list[str]) -> dict[str, float]:
        if len(new) <= LAZY_OVER:
            return {}
        ledgers: dict[str, dict[str, float]] = {}
        out = {k: stubs[k] for k in new if k in stubs}
        for k in new:
            if k in out:
                continue
            project, _, run_id = k.rpartition("/")
            if project not in ledgers:
                ledgers[project] = read_ledger(Path(root, "runs", project))
            if (created_at := ledgers[project].get(run_id)) is not None:
                out[k] = created_at
        rest = [k for k in new if k not in out]
        dirs = [os.path.join(root, "runs", k) for k in rest]
        with closing(fan_out_if_slow(start_in_run_json, dirs)) as starts:
            for k, created_at in zip(rest, starts, strict=True):
                if created_at is not None:
                    out[k] = created_at
        return out

    return defer


def _known_files(
    con: duckdb.DuckDBPyConnection, schema: str, run_keys: list[str], left: Left | None
) -> dict[str, Files]:
    """The files the index saw of `run_keys`: those `left` holds, the rest read."""
    kept = {k: left.files[k] for k in run_keys if k in left.files} if left else {}
    rest = [k for k in run_keys if k not in kept]
    return {**kept, **read_files(con, schema, rest)} if rest else kept


class CatchingUp:
    """The catch-up half of store/index.py's Index (which opens and holds the file)."""

    root: Path
    con: duckdb.DuckDBPyConnection
    schema: str
    stamps: dict[str, Stamp]
    partial: int
    stubs: int
    _unsteady: int
    total: int | None
    _progress: Callable[[int, int], None] | None
    #: what this process left in the file, if the file is still as it left it (`recall`)
    _left: Left | None
    #: what close() remembers of the file once it detached it (`remember`)
    _leaving: Left | None
    #: a live listing's index: training runs' new descriptions may be held back in memory
    #: (store/live_runs.py) instead of written into the file
    _live: bool

    def catch_up(
        self,
        schema: str | None = None,
        run_keys: Collection[str] | None = None,
        lazy: bool = False,
        over: int | None = None,
    ) -> CatchUp:
        """Bring `schema`'s tables (the index's own, `self.schema`, by default) in line with
        the files (of `run_keys` only, if given: runs the caller knows changed); returns what
        it did. `lazy`: more than LAZY_OVER (or `over`) changed runs are described in the
        first tier only (left partial), and a whole-store catch-up that finds that many runs
        it has no stamp of keeps those their projects' ledgers name as stubs, unlisted.
        (The default was "main", which holds read-only views while the index holds its
        file: a catch-up that had to write there failed.)"""
        schema = schema or self.schema
        stats = CatchUp()
        self.total = None  # until the next survey counts them
        left = self._left if schema == "idx" and run_keys is None else None
        stamps = left.stamps if left else read_stamps(self.con, schema, run_keys)
        stubs = left.stubs if left else read_stubs(self.con, schema, run_keys)
        if run_keys is None:
            defer = _starts(self.root, stubs) if lazy else None
            scan = scan_store(self.root, stamps, defer)
        else:
            scan = scan_runs(self.root, run_keys)
            if schema == "idx":  # (what close() would remember no longer holds)
                self._leaving = None
        known = _known_files(self.con, schema, [k for k in scan.listed if k in stamps], left)
        changed = [k for k, files in scan.listed.items() if known.get(k) != files]
        removed = [k for k in (*stamps, *stubs) if k not in scan.seen]
        stats.runs_seen, stats.runs_removed = len(scan.seen), len(removed)
        if run_keys is None:
            self.stamps = {k: v for k, v in stamps.items() if k in scan.seen}
        new_stubs = [k for k in scan.deferred if k not in stubs]
        if removed or new_stubs:
            from .describe import stub_row  # (pyarrow: only when the index changes)

            runs = os.path.join(self.root, "runs")  # (a Path a run: a tenth of a 10,000-run build)
            made = [stub_row(k, os.path.join(runs, k), scan.deferred[k]) for k in new_stubs]
            write_rows(self.con, schema, {"runs": made}, gone=removed)
        same = [k for k, files in scan.listed.items() if known.get(k) == files]
        restamped = self._restamp(schema, scan, {k: stamps[k] for k in same})
        if run_keys is None:
            self.stamps.update(restamped)
        segments = not lazy or len(changed) <= (LAZY_OVER if over is None else over)
        written: dict[str, Files] = {}  # the files rows written of runs listed again next time
        live = {k: v for k, v in left.live.items() if k in scan.seen} if left else {}
        now = time.time()
        if changed:
            from .describe import describe_runs  # (pyarrow.parquet: only when needed)
        with WriteBehind(len(changed) > BATCH) as writes:  # store/write_behind.py
            for start in range(0, len(changed), BATCH):
                batch = changed[start : start + BATCH]
                rows: Rows = {t: [] for t in TABLES if t != "info"}
                done = self._done(start, len(changed))
                stats.segments_read += describe_runs(
                    self.root, batch, scan.listed, rows, segments, done, scan.pace
                )
                states = {r[0]: r[_STATE] for r in rows["runs"]}
                new = {k: Stamp.of(k, scan.listed[k], states.get(k), scan.settled) for k in batch}
                if run_keys is None:
                    self.stamps.update(new)
                rows["stamps"] = [stamp_row(k, stamp) for k, stamp in new.items()]
                kept = _same_meta(batch, known, scan.listed, rows)
                held = hold_back(rows, live, new, kept, now) if self._live and segments else set()
                kept -= held
                if schema == "idx" and run_keys is None:
                    remember_written(live, rows, new, now)
                update = _volatile(rows, kept) if kept else None
                gone = [k for k in batch if (k in stamps or k in stubs) and k not in held]
                writes.submit(write_rows, self.con, schema, rows, gone, update=update, kept=kept)
                stats.runs_indexed += len(batch)
                for run_key, path, size, mtime in rows["files"]:
                    if new[run_key].open:
                        written.setdefault(run_key, {})[path] = (size, mtime)
        if schema == "idx" and run_keys is None:  # what close() remembers (`Left`)
            kept = {k: known[k] for k in same if self.stamps[k].open}
            files = {**kept, **written, **files_of(live, known)}
            self._leaving = Left(self.stamps, files, live, scan.deferred)
        return stats

    def _done(self, start: int, total: int) -> Callable[[int], None] | None:
        """describe_runs' `done` for a batch from `start`: the build's progress."""
        progress = self._progress
        return None if progress is None else lambda i: progress(start + i, total)

    def _restamp(self, schema: str, scan: Scan, same: dict[str, Stamp]) -> dict[str, Stamp]:
        """New stamps for runs listed again whose files did not change (`same`: their
        stamps), as their directories settled: else they would be listed on every catch-up."""
        if not same:
            return {}
        states = dict(
            self.con.execute(
                f"SELECT run_key, state FROM {schema}.runs "
                "WHERE run_key IN (SELECT unnest(?::VARCHAR[]))",
                [list(same)],
            ).fetchall()
        )
        new = {k: Stamp.of(k, scan.listed[k], states.get(k), scan.settled) for k in same}
        new = {k: v for k, v in new.items() if v != same[k]}
        if not new:
            return new
        stamps = {"stamps": [stamp_row(k, v) for k, v in new.items()]}
        write_rows(self.con, schema, stamps, gone=list(new), drop=("stamps",))
        return new

    def complete(
        self,
        run_keys: Sequence[str] | None = None,
        schema: str | None = None,
        limit: int | None = None,
    ) -> int:
        """Describe the segments of the partial runs (of `run_keys` only, if given; the
        first `limit` by key, if given): their steps, values, last row and metric keys; and
        stubs whole (`describe_stubs`). Returns how many it described."""
        schema = schema or self.schema
        only = "" if run_keys is None else " AND run_key IN (SELECT unnest(?::VARCHAR[]))"
        first = "" if limit is None else f" LIMIT {int(limit)}"
        todo = self.con.execute(
            f"SELECT run_key, warnings, stub FROM {schema}.runs WHERE partial{only} "
            f"ORDER BY run_key{first}",
            [] if run_keys is None else [list(run_keys)],
        ).fetchall()
        stubs = [k for k, _, stub in todo if stub]
        if stubs:
            self.describe_stubs(stubs, schema)
        todo = [(k, warnings) for k, warnings, stub in todo if not stub]
        if todo:  # (pyarrow.parquet: only when there are segments to describe)
            from .describe import describe_history_of
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            rows: Rows = {"segments": [], "segment_keys": []}
            updates = []
            for i, (run_key, warnings_before) in enumerate(batch, start + 1):
                found = describe_history_of(self.root, run_key, warnings_before, rows)
                if found is not None:  # else deleted since: the next catch-up drops it
                    updates.append((run_key, *found, False))
                if self._progress and run_keys is None:
                    self._progress(i, len(todo))
            update = runs_update(_COMPLETED, updates)
            gone = [u[0] for u in updates]
            write_rows(self.con, schema, rows, gone, SEGMENT_TABLES, update)
            self.partial -= len(updates)
        return len(todo) + len(stubs)

    def describe_stubs(
        self,
        run_keys: Sequence[str] | None = None,
        schema: str | None = None,
        segments: bool = True,
        where: str = "TRUE",
    ) -> int:
        """Read and describe the stubs (of `run_keys` only, if given; whose rows meet
        `where`): whole, or their first tier only if not named (the rest is `complete`'s)
        or not `segments`. A stub whose run is gone is dropped. Returns how many stubs
        there were."""
        schema = schema or self.schema
        stubs = sorted(read_stubs(self.con, schema, run_keys, where))
        if stubs:
            whole = run_keys is not None and segments
            self.catch_up(schema, run_keys=stubs, lazy=not whole, over=None if whole else 0)
            self.total, self.partial, self.stubs = self.con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE partial), count(*) FILTER (WHERE stub) "
                f"FROM {schema}.runs"
            ).fetchone()
        return len(stubs)
