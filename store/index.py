"""index.duckdb: a derived, rebuildable index of a store, caught up incrementally.

The files under runs/ are the truth; the index only makes them fast to list, filter and
query. A reader ATTACHes index.duckdb read-write, catches it up and queries it in place
(views in its own in-memory database name the file's tables), and detaches when closed: the
file is held only while a command or a UI read runs. DuckDB allows one read-write process
per file, so when another process holds it a reader retries briefly, then copies it
read-only into memory, then builds its view in memory from the files - never an error,
never a hang. A long-lived index (the server's, `keep_files=True`) works on an in-memory
copy instead, so it never holds the file. Training processes never open the index.

Catch-up compares each run's stamp (store/scan.py: its directories' mtimes; two stats for a
finished run, three for a live one) with what the index saw last time and lists and
re-reads only runs that changed, so a store that gained one run costs one run's work plus
a stat per run. A cold build inserts a batch of runs at a time, so an interrupted one
resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import warnings
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .liveness import RUNNING, run_state
from .scan import Files, Scan, Stamp, scan_files, scan_runs, scan_store

__all__ = ["INDEX_FILE", "CatchUp", "Index", "rebuild", "scan_files"]

INDEX_FILE = "index.duckdb"
INDEX_VERSION = 7  # 7: run stamps (store/scan.py)
#: seconds a reader waits for another process's read before falling back: a reader holds the
#: file for its whole read (well under a second), and the fallback - the read-only attach
#: fails too while the file is held - is a catch-up in memory, seconds on a large store
#: (4 s at 1,000 runs: waiting 1 s made a second reader that slow)
LOCK_WAIT = 10.0
#: seconds a thread waits for another thread of this process to close the file
THREAD_WAIT = 60.0
#: runs described between two inserts of a cold build (what an interruption loses at most)
BATCH = 500
#: a write-ahead log under this size stays when the file is detached: folding it into the
#: file (a checkpoint) costs ~50 ms even for one changed run (~5 KB of log), while each
#: later attach replays the log at ~0.15 ms a KB; 64 KB: one checkpoint per ~12 small
#: catch-ups, at most ~10 ms more on an attach in between (1,000-run store, busy machine)
WAL_KEEP = 64 << 10
_ATTACH_LOCK = threading.RLock()
_held = threading.local()

#: the segments table's columns: store/query.py scans what it lists (and so does a server's
#: one-run read, sync/run_reads.py, which fills a table of its own with them)
SEGMENTS = """(
    run_key VARCHAR, path VARCHAR, writer VARCHAR, label VARCHAR, seq INTEGER, sealed BOOLEAN,
    "rows" BIGINT, step_min BIGINT, step_max BIGINT, time_min DOUBLE, time_max DOUBLE,
    sha256 VARCHAR, size BIGINT, mtime_ns BIGINT, damage VARCHAR)"""
SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS {s}.info (name VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS {s}.runs (
    run_key VARCHAR PRIMARY KEY, project VARCHAR, id VARCHAR, name VARCHAR, entity VARCHAR,
    "group" VARCHAR, job_type VARCHAR, tags VARCHAR[], notes VARCHAR, state VARCHAR,
    created_at DOUBLE, ended_at DOUBLE, last_time DOUBLE, steps BIGINT, "values" BIGINT,
    host VARCHAR, "user" VARCHAR, command VARCHAR, git_commit VARCHAR, git_branch VARCHAR,
    git_remote VARCHAR, git_dirty BOOLEAN, error VARCHAR, dir VARCHAR, writers VARCHAR,
    meta VARCHAR, warnings VARCHAR, defined_metrics VARCHAR[], sync VARCHAR);
CREATE TABLE IF NOT EXISTS {s}.config (
    run_key VARCHAR, key VARCHAR, num DOUBLE, text VARCHAR, json VARCHAR);
CREATE TABLE IF NOT EXISTS {s}.summary (
    run_key VARCHAR, key VARCHAR, num DOUBLE, text VARCHAR, json VARCHAR);
CREATE TABLE IF NOT EXISTS {s}.segments """
    + SEGMENTS
    + """;
CREATE TABLE IF NOT EXISTS {s}.segment_keys (path VARCHAR, key VARCHAR);
CREATE TABLE IF NOT EXISTS {s}.files (run_key VARCHAR, path VARCHAR, size BIGINT, mtime_ns BIGINT);
CREATE TABLE IF NOT EXISTS {s}.stamps (
    run_key VARCHAR, run_dir BIGINT, writers_dir BIGINT, history_dir BIGINT, open BOOLEAN,
    quiet BOOLEAN);
"""
)
SCHEMA_HASH = hashlib.sha256(f"{INDEX_VERSION}:{SCHEMA}".encode()).hexdigest()[:16]
TABLES = ("info", "runs", "config", "summary", "segments", "segment_keys", "files", "stamps")
#: what queries need in memory (`files` and `stamps` only serve the catch-up)
MEMORY_TABLES = TABLES[:-2]


@dataclass
class CatchUp:
    """What one catch-up did (for `flightlog index`, doctor and the benchmark)."""

    runs_seen: int = 0
    runs_indexed: int = 0
    runs_removed: int = 0
    segments_read: int = 0
    seconds: float = 0.0
    source: str = "file"  # "file", "read-only", "memory"


class Index:
    """A DuckDB view of a store, caught up with its files: the file itself while open, or an
    in-memory copy (`keep_files`, or when another process holds the file)."""

    def __init__(
        self,
        root: Path | str,
        *,
        persist: bool = True,
        progress: Callable[[int, int], None] | None = None,
        keep_files: bool = False,
    ) -> None:
        """`keep_files`: work on an in-memory copy that keeps the file and stamp tables too,
        for a long-lived index that catches up again (`catch_up(run_keys=...)`), as the
        server's does: it never holds the file. `progress(done, total)` is called as runs
        are described (it may raise to interrupt a long build)."""
        self.root = Path(root)
        self._copy = keep_files
        self._tables = TABLES if keep_files else MEMORY_TABLES
        self.con = duckdb.connect()
        self.last = CatchUp()
        #: each run's stamp after the last whole-store catch-up (store/scan.py): what a
        #: reader keeps to tell by stats that its answer still holds (tui/data.py)
        self.stamps: dict[str, Stamp] = {}
        self._progress = progress
        #: where the tables are: "idx" (the attached file) or "main" (in memory)
        self.schema = "main"
        self._holding = False
        self._open(persist)

    # -- opening ---------------------------------------------------------------------------
    def _open(self, persist: bool) -> None:
        # DuckDB refuses to attach one file twice in a process: threads (UI workers) take
        # turns, and an index opened inside another one's block works in memory
        t0 = time.perf_counter()
        nested = getattr(_held, "count", 0) > 0
        file_usable = persist and not nested and (self.root / "runs").is_dir()
        if not file_usable or not _ATTACH_LOCK.acquire(timeout=THREAD_WAIT):
            self._in_memory()
        else:
            try:
                self._open_locked()
            finally:
                if not self._holding:
                    _ATTACH_LOCK.release()
        try:
            self.refresh_states()
        except BaseException:
            self.close()
            raise
        self.last.seconds = time.perf_counter() - t0

    def _in_memory(self) -> None:
        self.con.execute(SCHEMA.format(s="main"))
        self.last = self.catch_up("main")
        self.last.source = "memory"

    def _open_locked(self) -> None:
        path = self.root / INDEX_FILE
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                self.con.execute(f"ATTACH '{_sql_str(str(path))}' AS idx")
                break
            except duckdb.Error as e:
                if not _is_lock_error(e) or time.monotonic() > deadline:
                    self._open_fallback(path, e)
                    return
                time.sleep(0.05)
        try:
            self._prepare_file()
            self.last = self.catch_up("idx")
            if self._copy:
                self.con.execute(SCHEMA.format(s="main"))
                for t in self._tables:
                    self.con.execute(f"INSERT INTO main.{t} SELECT * FROM idx.{t}")
            else:
                for t in TABLES:
                    self.con.execute(f"CREATE VIEW main.{t} AS SELECT * FROM idx.{t}")
                self.schema, self._holding = "idx", True
                _held.count = getattr(_held, "count", 0) + 1
        finally:
            if not self._holding:
                self._detach()

    def _open_fallback(self, path: Path, err: Exception) -> None:
        """Another process holds the file (or it is unreadable): read-only, else memory."""
        self.con.execute(SCHEMA.format(s="main"))
        if path.exists():
            try:
                self.con.execute(f"ATTACH '{_sql_str(str(path))}' AS ro (READ_ONLY)")
                if self._info("ro", "schema") == SCHEMA_HASH:
                    for t in TABLES:
                        self.con.execute(f"INSERT INTO main.{t} SELECT * FROM ro.{t}")
                self.con.execute("DETACH ro")
                self.last = self.catch_up("main")
                self.last.source = "read-only"
                return
            except duckdb.Error:
                try:
                    self.con.execute("DETACH DATABASE IF EXISTS ro")
                except duckdb.Error:
                    pass
        self.last = self.catch_up("main")
        self.last.source = "memory"
        if not _is_lock_error(err):
            warnings.warn(f"flightlog: ignoring unusable index {path}: {err}", stacklevel=4)

    def _info(self, schema: str, name: str) -> str | None:
        try:
            row = self.con.execute(
                f"SELECT value FROM {schema}.info WHERE name = ?", [name]
            ).fetchone()
        except duckdb.Error:
            return None
        return row[0] if row else None

    def _prepare_file(self) -> None:
        """Create the schema; a file written by another version, or with other tables (an
        interrupted upgrade), is dropped and rebuilt. One lookup: the schema's own hash."""
        if self._info("idx", "schema") != SCHEMA_HASH:
            for t in TABLES:
                self.con.execute(f"DROP TABLE IF EXISTS idx.{t}")
            self.con.execute(SCHEMA.format(s="idx"))
            self.con.executemany(
                "INSERT INTO idx.info VALUES (?, ?)",
                [("version", str(INDEX_VERSION)), ("schema", SCHEMA_HASH)],
            )

    # -- catching up -----------------------------------------------------------------------
    def catch_up(self, schema: str = "main", run_keys: Collection[str] | None = None) -> CatchUp:
        """Bring `schema`'s tables in line with the files (of `run_keys` only, if given: runs
        the caller knows changed); returns what it did."""
        from .describe import describe_run  # pyarrow.parquet and compute: only when needed

        stats = CatchUp()
        stamps = self._stamps(schema, run_keys)
        scan = scan_store(self.root, stamps) if run_keys is None else scan_runs(self.root, run_keys)
        known = self._files(schema, [k for k in scan.listed if k in stamps])
        changed = [k for k, files in scan.listed.items() if known.get(k) != files]
        removed = [k for k in stamps if k not in scan.seen]
        stats.runs_seen, stats.runs_removed = len(scan.seen), len(removed)
        if run_keys is None:
            self.stamps = {k: v for k, v in stamps.items() if k in scan.seen}
        self._delete(schema, removed)
        same = [k for k, files in scan.listed.items() if known.get(k) == files]
        restamped = self._restamp(schema, scan, {k: stamps[k] for k in same})
        if run_keys is None:
            self.stamps.update(restamped)
        for start in range(0, len(changed), BATCH):
            batch = changed[start : start + BATCH]
            rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES if t != "info"}
            for i, run_key in enumerate(batch, start + 1):
                stats.segments_read += describe_run(self.root, run_key, scan.listed[run_key], rows)
                if self._progress:
                    self._progress(i, len(changed))
            states = {r[0]: r[9] for r in rows["runs"]}
            new = {k: Stamp.of(k, scan.listed[k], states.get(k), scan.settled) for k in batch}
            if run_keys is None:
                self.stamps.update(new)
            rows["stamps"] = [_stamp_row(k, stamp) for k, stamp in new.items()]
            with self._transaction():  # one commit (one WAL write) a batch, not one a table
                self._delete(schema, [k for k in batch if k in stamps])  # new: nothing to drop
                self._insert(schema, rows)
            stats.runs_indexed += len(batch)
        return stats

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
        with self._transaction():
            self.con.execute(
                f"DELETE FROM {schema}.stamps WHERE run_key IN (SELECT unnest(?::VARCHAR[]))",
                [list(new)],
            )
            self._insert(schema, {"stamps": [_stamp_row(k, v) for k, v in new.items()]})
        return new

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def _stamps(self, schema: str, run_keys: Collection[str] | None) -> dict[str, Stamp]:
        """The stamps of the runs the index holds (of `run_keys` only, if given)."""
        only = "" if run_keys is None else " WHERE run_key IN (SELECT unnest(?::VARCHAR[]))"
        rows = self.con.execute(
            f"SELECT run_key, run_dir, writers_dir, history_dir, open, quiet "
            f"FROM {schema}.stamps{only}",
            [] if run_keys is None else [list(run_keys)],
        ).fetchall()
        return {r[0]: Stamp((r[1], r[2], r[3]), bool(r[4]), bool(r[5])) for r in rows}

    def _files(self, schema: str, run_keys: list[str]) -> dict[str, Files]:
        """The files the index saw of `run_keys`, as the scan lists them."""
        out: dict[str, Files] = {}
        if not run_keys:
            return out
        for run_key, path, size, mtime in self.con.execute(
            f"SELECT run_key, path, size, mtime_ns FROM {schema}.files "
            "WHERE run_key IN (SELECT unnest(?::VARCHAR[]))",
            [run_keys],
        ).fetchall():
            out.setdefault(run_key, {})[path] = (size, mtime)
        return out

    def _delete(self, schema: str, run_keys: list[str]) -> None:
        if not run_keys:
            return
        gone = "run_key IN (SELECT unnest(?::VARCHAR[]))"
        self.con.execute(
            f"DELETE FROM {schema}.segment_keys WHERE path IN "
            f"(SELECT path FROM {schema}.segments WHERE {gone})",
            [run_keys],
        )
        for t in ("runs", "config", "summary", "segments", "files", "stamps"):
            self.con.execute(f"DELETE FROM {schema}.{t} WHERE {gone}", [run_keys])

    def _insert(self, schema: str, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        for table, values in rows.items():
            if not values:
                continue
            if len(values) < 4:  # registering an Arrow table costs more than one or two rows
                marks = ", ".join("?" * len(values[0]))
                self.con.executemany(f"INSERT INTO {schema}.{table} VALUES ({marks})", values)
                continue
            cols = self.con.execute(f"SELECT * FROM {schema}.{table} LIMIT 0").description
            names = [c[0] for c in cols]
            arrow = pa.table({n: [r[i] for r in values] for i, n in enumerate(names)})
            self.con.register("_incoming", arrow)
            self.con.execute(f"INSERT INTO {schema}.{table} SELECT * FROM _incoming")
            self.con.unregister("_incoming")

    def refresh_states(self) -> int:
        """Re-derive the state of runs indexed as running: their process may have died.
        Returns how many changed."""
        runs = f"{self.schema}.runs"
        running = self.con.execute(
            f"SELECT run_key, writers FROM {runs} WHERE state = ?", [RUNNING]
        ).fetchall()
        changed = 0
        for run_key, writers in running:
            state = run_state(json.loads(writers))
            if state != RUNNING:
                self.con.execute(f"UPDATE {runs} SET state = ? WHERE run_key = ?", [state, run_key])
                changed += 1
        return changed

    # -- queries ---------------------------------------------------------------------------
    def arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run a query and return its result as an Arrow table."""
        return self.con.sql(sql, params=params).to_arrow_table()

    def _detach(self) -> None:
        """Detach the file, checkpointing only a write-ahead log grown past WAL_KEEP: a
        catch-up that added a run or two leaves its few KB in the log, which DuckDB
        replays on the next attach (read-only ones included)."""
        wal = self.root / (INDEX_FILE + ".wal")
        try:
            small = wal.stat().st_size < WAL_KEEP
        except FileNotFoundError:
            small = True
        if small:
            self.con.execute("PRAGMA disable_checkpoint_on_shutdown")
        self.con.execute("DETACH idx")

    def close(self) -> None:
        """Detach the file (letting other processes and threads at it) and close."""
        if self._holding:
            self._holding = False
            _held.count -= 1
            try:
                for t in TABLES:
                    self.con.execute(f"DROP VIEW IF EXISTS main.{t}")
                self._detach()
            finally:
                _ATTACH_LOCK.release()
        self.con.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stamp_row(run_key: str, stamp: Stamp) -> tuple[Any, ...]:
    return (run_key, *stamp.dirs, stamp.open, stamp.quiet)


def _is_lock_error(e: Exception) -> bool:
    return "lock" in str(e).lower()


def _sql_str(s: str) -> str:
    return s.replace("'", "''")


def rebuild(root: Path | str, progress: Callable[[int, int], None] | None = None) -> CatchUp:
    """Delete index.duckdb and build it again from the files."""
    path = Path(root) / INDEX_FILE
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    with Index(root, progress=progress) as idx:
        return idx.last
