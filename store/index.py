"""index.duckdb: a derived, rebuildable index of a store, caught up incrementally.

The files under runs/ are the truth; the index only makes them fast to list, filter and
query. Every reader works on an in-memory DuckDB database: it ATTACHes index.duckdb
read-write just long enough to catch it up and copy its tables, then detaches. DuckDB allows
one read-write process per file, so when another process holds it a reader retries briefly,
then attaches read-only, then builds its view in memory from the files - never an error,
never a hang. Training processes never open the index.

Catch-up compares every run file's (path, size, mtime) with what the index saw last time and
re-reads only runs that changed, so a store that gained one run costs one run's work.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .describe import describe_run
from .liveness import RUNNING, run_state
from .scan import scan_files, scan_runs

__all__ = ["INDEX_FILE", "CatchUp", "Index", "rebuild", "scan_files"]

INDEX_FILE = "index.duckdb"
INDEX_VERSION = 6  # 6: entities a level of their own (runs/@E/P/)
#: seconds a reader waits for another process's catch-up before falling back
LOCK_WAIT = 1.0
_ATTACH_LOCK = threading.Lock()

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
"""
)
SCHEMA_HASH = hashlib.sha256(f"{INDEX_VERSION}:{SCHEMA}".encode()).hexdigest()[:16]
TABLES = ("info", "runs", "config", "summary", "segments", "segment_keys", "files")
#: what queries need in memory (`files` only serves the catch-up, which reads it in the file)
MEMORY_TABLES = TABLES[:-1]


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
    """An in-memory DuckDB view of a store, caught up with its files."""

    def __init__(
        self,
        root: Path | str,
        *,
        persist: bool = True,
        progress: Callable[[int, int], None] | None = None,
        keep_files: bool = False,
    ) -> None:
        """`keep_files`: keep the file table in memory too, for a long-lived index that
        catches up again (`catch_up(run_keys=...)`), as the server's does."""
        self.root = Path(root)
        self._tables = TABLES if keep_files else MEMORY_TABLES
        self.con = duckdb.connect()
        self.con.execute(SCHEMA.format(s="main"))
        self.last = CatchUp()
        self._progress = progress
        self._open(persist)

    # -- opening ---------------------------------------------------------------------------
    def _open(self, persist: bool) -> None:
        # DuckDB refuses to attach one file twice in a process: threads (UI workers) take turns
        with _ATTACH_LOCK:
            self._open_locked(persist)

    def _open_locked(self, persist: bool) -> None:
        path = self.root / INDEX_FILE
        t0 = time.perf_counter()
        if persist and (self.root / "runs").is_dir():
            deadline = time.monotonic() + LOCK_WAIT
            while True:
                try:
                    self.con.execute(f"ATTACH '{_sql_str(str(path))}' AS idx")
                    break
                except duckdb.Error as e:
                    if not _is_lock_error(e) or time.monotonic() > deadline:
                        self._open_fallback(path, e)
                        break
                    time.sleep(0.05)
            if self._attached():
                try:
                    self._prepare_file()
                    self.last = self.catch_up("idx")
                    for t in self._tables:
                        self.con.execute(f"INSERT INTO main.{t} SELECT * FROM idx.{t}")
                finally:
                    self.con.execute("DETACH idx")
        else:
            self.last = self.catch_up("main")
            self.last.source = "memory"
        self.refresh_states()
        self.last.seconds = time.perf_counter() - t0

    def _attached(self) -> bool:
        return bool(
            self.con.execute(
                "SELECT count(*) FROM duckdb_databases() WHERE database_name = 'idx'"
            ).fetchone()[0]
        )

    def _open_fallback(self, path: Path, err: Exception) -> None:
        """Another process holds the file (or it is unreadable): read-only, else memory."""
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
            warnings.warn(f"flightlog: ignoring unusable index {path}: {err}", stacklevel=3)

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
        stats = CatchUp()
        known: dict[str, dict[str, tuple[int, int]]] = {}
        only = "" if run_keys is None else " WHERE run_key IN (SELECT unnest(?::VARCHAR[]))"
        for run_key, path, size, mtime in self.con.execute(
            f"SELECT run_key, path, size, mtime_ns FROM {schema}.files{only}",
            [] if run_keys is None else [list(run_keys)],
        ).fetchall():
            known.setdefault(run_key, {})[path] = (size, mtime)
        if run_keys is None:
            on_disk = scan_files(self.root, known)
        else:
            on_disk = scan_runs(self.root, run_keys)
        stats.runs_seen = len(on_disk)
        changed = [k for k, files in on_disk.items() if known.get(k) != files]
        removed = [k for k in known if k not in on_disk]
        stats.runs_removed = len(removed)
        self._delete(schema, removed + [k for k in changed if k in known])  # new: nothing to drop
        rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES if t != "info"}
        for i, run_key in enumerate(changed):
            seg_count = describe_run(self.root, run_key, on_disk[run_key], rows)
            stats.segments_read += seg_count
            if self._progress:
                self._progress(i + 1, len(changed))
        stats.runs_indexed = len(changed)
        self._insert(schema, rows)
        return stats

    def _delete(self, schema: str, run_keys: list[str]) -> None:
        if not run_keys:
            return
        self.con.execute("CREATE OR REPLACE TEMP TABLE _gone (run_key VARCHAR)")
        self.con.executemany("INSERT INTO _gone VALUES (?)", [(k,) for k in run_keys])
        self.con.execute(
            f"DELETE FROM {schema}.segment_keys WHERE path IN "
            f"(SELECT path FROM {schema}.segments WHERE run_key IN (SELECT run_key FROM _gone))"
        )
        for t in ("runs", "config", "summary", "segments", "files"):
            self.con.execute(
                f"DELETE FROM {schema}.{t} WHERE run_key IN (SELECT run_key FROM _gone)"
            )

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
        running = self.con.execute(
            "SELECT run_key, writers FROM runs WHERE state = ?", [RUNNING]
        ).fetchall()
        changed = 0
        for run_key, writers in running:
            state = run_state(json.loads(writers))
            if state != RUNNING:
                self.con.execute("UPDATE runs SET state = ? WHERE run_key = ?", [state, run_key])
                changed += 1
        return changed

    # -- queries ---------------------------------------------------------------------------
    def arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run a query and return its result as an Arrow table."""
        return self.con.sql(sql, params=params).to_arrow_table()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
