"""index.duckdb: a derived, rebuildable index of a store, caught up incrementally.

The files under runs/ are the truth; the index only makes them fast to list, filter and
query. A reader ATTACHes index.duckdb read-write, catches it up and queries it in place
(views in its own in-memory database name the file's tables), and detaches when closed: the
file is held only while a command or a UI read runs. DuckDB allows one read-write process
per file, so when another process holds it a reader retries briefly, then copies it
read-only into memory, then builds its view in memory from the files - never an error,
never a hang. A long-lived index (the server's, `keep_files=True`) works on an in-memory
copy instead, so it never holds the file. Training processes never open the index.

Opening an index catches it up with the files (store/catch_up.py: by stamps, in batches,
in two tiers); its tables are store/index_tables.py's.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from .catch_up import CatchingUp, CatchUp, recall, remember
from .index_tables import (
    INDEX_VERSION,
    MEMORY_TABLES,
    SCHEMA,
    SCHEMA_HASH,
    SEGMENTS,
    TABLES,
    Rows,
)
from .live_runs import held
from .liveness import RUNNING, run_state
from .scan import Stamp, scan_files

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["INDEX_FILE", "SEGMENTS", "CatchUp", "Index", "rebuild", "scan_files"]

INDEX_FILE = "index.duckdb"
#: seconds a reader waits for another process's read before falling back: a reader holds the
#: file for its whole read (well under a second), and the fallback - the read-only attach
#: fails too while the file is held - is a catch-up in memory, seconds on a large store
#: (4 s at 1,000 runs: waiting 1 s made a second reader that slow)
LOCK_WAIT = 10.0
#: seconds a thread waits for another thread of this process to close the file
THREAD_WAIT = 60.0
#: a write-ahead log under this size stays when the file is detached: folding it into the
#: file (a checkpoint) costs ~50 ms even for one changed run (~5 KB of log), while each
#: later attach replays the log at ~0.15 ms a KB; 64 KB: one checkpoint per ~12 small
#: catch-ups, at most ~10 ms more on an attach in between (1,000-run store, busy machine)
WAL_KEEP = 64 << 10
_ATTACH_LOCK = threading.RLock()
_held = threading.local()
#: an idle connection of a listing's index, its views naming the file's tables: connecting
#: costs 25-80 ms on a busy machine, most of a runs screen refresh, which opens the index
#: every 2 s while runs train; only listings (store/catalog.py queries) reuse it, so no
#: temporary view or registered table of store/query.py is ever left in it
_spare: list[duckdb.DuckDBPyConnection] = []
_SPARE_LOCK = threading.Lock()


class Index(CatchingUp):
    """A DuckDB view of a store, caught up with its files: the file itself while open, or an
    in-memory copy (`keep_files`, or when another process holds the file)."""

    def __init__(
        self,
        root: Path | str,
        *,
        persist: bool = True,
        progress: Callable[[int, int], None] | None = None,
        keep_files: bool = False,
        fresh: bool = True,
        lazy: bool = False,
        live: bool = False,
    ) -> None:
        """`keep_files`: work on an in-memory copy that keeps the file and stamp tables too,
        for a long-lived index that catches up again (`catch_up(run_keys=...)`), as the
        server's does: it never holds the file. `progress(done, total)` is called as runs
        are described (it may raise to interrupt a long build).

        `fresh=False`: the index as the last catch-up left it, without looking at the files
        (no stat pass: a first paint of a big store before its catch-up). `lazy`: a
        listing's index, which may hold `partial` runs (store/index_tables.py) that
        store/catalog.py describes fully before it shows or filters on what they lack;
        every other index describes them all when it opens. `live`: a listing whose query
        reads no column a training run changes (store/catalog.py's `reads_live`), which
        patches its rows with `held_rows`: training runs' new descriptions may stay in
        memory instead of being written into the file."""
        self.root = Path(root)
        self._copy = keep_files
        self._tables = TABLES if keep_files else MEMORY_TABLES
        with _SPARE_LOCK:
            spare = _spare.pop() if lazy and _spare else None
        #: whether main's views name the attached file's tables (a spare connection's do)
        self._views = spare is not None
        # a listing's queries are small: DuckDB's thread pool costs more than it saves (~10%
        # of a live refresh's CPU on 2 cores)
        self.con = spare or duckdb.connect(config={"threads": 1} if lazy else {})
        self.last = CatchUp()
        #: each run's stamp after the last whole-store catch-up (store/scan.py): what a
        #: reader keeps to tell by stats that its answer still holds (tui/data.py)
        self.stamps: dict[str, Stamp] = {}
        self._progress = progress
        self._fresh, self._lazy, self._live = fresh, lazy, live
        #: how many runs the index holds described in the first tier only, or not at all
        self.partial = 0
        #: how many of those it holds as stubs, known by key and start only (their ledger's)
        self.stubs = 0
        #: runs whose listing may change with no file changing (`steady`)
        self._unsteady = 0
        #: how many runs the index holds, as its last survey counted them (None: not known)
        self.total: int | None = None
        #: where the tables are: "idx" (the attached file) or "main" (in memory)
        self.schema = "main"
        self._holding = False
        self._left = self._leaving = None
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
        self.last.seconds = time.perf_counter() - t0

    def _in_memory(self) -> None:
        self._drop_views()
        self.con.execute(SCHEMA.format(s="main"))
        self.last = self._look("main")
        self.last.source = "memory"

    def _look(self, schema: str) -> CatchUp:
        """The catch-up an open makes: none for a stale (`fresh=False`) open; a listing's
        may leave runs partial, every other index's describes them all."""
        stats = self.catch_up(schema, lazy=self._lazy) if self._fresh else CatchUp()
        self._survey(schema)
        if self.partial and not self._lazy and self._fresh:
            self.complete(schema=schema)
            self._survey(schema)
        return stats

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
            self._left = recall(path)  # (a file as this process left it needs no check)
            if self._left is None:
                self._prepare_file()
            self.last = self._look("idx")
            if self._copy:
                self.con.execute(SCHEMA.format(s="main"))
                for t in self._tables:
                    self.con.execute(f"INSERT INTO main.{t} SELECT * FROM idx.{t}")
            else:
                if not self._views:
                    for t in TABLES:
                        self.con.execute(f"CREATE VIEW main.{t} AS SELECT * FROM idx.{t}")
                    self._views = True
                self.schema, self._holding = "idx", True
                _held.count = getattr(_held, "count", 0) + 1
        finally:
            if not self._holding:
                self._detach()

    def _open_fallback(self, path: Path, err: Exception) -> None:
        """Another process holds the file (or it is unreadable): read-only, else memory."""
        self._drop_views()
        self.con.execute(SCHEMA.format(s="main"))
        if path.exists():
            try:
                self.con.execute(f"ATTACH '{_sql_str(str(path))}' AS ro (READ_ONLY)")
                if self._info("ro", "schema") == SCHEMA_HASH:
                    for t in TABLES:
                        self.con.execute(f"INSERT INTO main.{t} SELECT * FROM ro.{t}")
                self.con.execute("DETACH ro")
                self.last = self._look("main")
                self.last.source = "read-only"
                return
            except duckdb.Error:
                try:
                    self.con.execute("DETACH DATABASE IF EXISTS ro")
                except duckdb.Error:
                    pass
        self.last = self._look("main")
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

    def refresh_states(self) -> int:
        """Re-derive the state of runs indexed as running: their process may have died.
        Returns how many changed (and counts the partial runs again, and `steady`)."""
        return self._survey(self.schema)

    def _survey(self, schema: str) -> int:
        """One statement over the runs after a catch-up (each costs ~1 ms on a busy machine,
        every 2 s of a live refresh): how many there are (`total`) and are `partial`; the
        state of those indexed as running, re-derived (their process may have died; returns
        how many changed); and `steady`, whether the index's answers change only when the
        files do: not while a run is running (its state follows its process, which no stat
        sees die), nor while one with neither an end nor a last row has a duration that runs
        up to now, nor while runs are partial (described in the background)."""
        runs = f"{schema}.runs"
        total, partial, stubs, unended, running = self.con.execute(
            "SELECT count(*), count(*) FILTER (WHERE partial), count(*) FILTER (WHERE stub), "
            "count(*) FILTER (WHERE state "
            "IS DISTINCT FROM ? AND ended_at IS NULL AND last_time IS NULL), list({'key': run_key, "
            "'writers': writers, 'unended': ended_at IS NULL AND last_time IS NULL}) "
            f"FILTER (WHERE state = ?) FROM {runs}",
            [RUNNING, RUNNING],
        ).fetchone()
        changed = still = 0
        for run in running or ():
            state = run_state(json.loads(run["writers"]))
            if state == RUNNING:
                still += 1
                continue
            self.con.execute(f"UPDATE {runs} SET state = ? WHERE run_key = ?", [state, run["key"]])
            if self._leaving is not None:  # (its held-back description says it runs)
                self._leaving.live.pop(run["key"], None)
            changed += 1
            unended += run["unended"]
        self.partial, self.stubs, self.total = int(partial), int(stubs), int(total)
        self._unsteady = unended + still
        return changed

    @property
    def held_rows(self) -> dict[str, Rows]:
        """The training runs whose latest description this catch-up held back from the
        file (`live`): run -> its rows (store/live_runs.py patches a listing with them)."""
        return held(self._leaving.live) if self._leaving is not None else {}

    @property
    def steady(self) -> bool:
        """Whether the index's answers change only when the files do (`_survey`; a partial
        run described since keeps it unsteady until the next open: the safe side)."""
        return self.partial == 0 and self._unsteady == 0

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
        # (a reused connection keeps the setting: set it either way)
        self.con.execute(f"PRAGMA {'disable' if small else 'enable'}_checkpoint_on_shutdown")
        self.con.execute("DETACH idx")

    def _drop_views(self) -> None:
        if self._views:
            for t in TABLES:
                self.con.execute(f"DROP VIEW IF EXISTS main.{t}")
            self._views = False

    def close(self) -> None:
        """Detach the file (letting other processes and threads at it) and close (a
        listing's connection is kept for the next listing)."""
        if self._holding:
            self._holding = False
            _held.count -= 1
            try:
                self._detach()
                if self._leaving is not None:
                    remember(self.root / INDEX_FILE, self._leaving)
            finally:
                _ATTACH_LOCK.release()
            with _SPARE_LOCK:
                if self._lazy and self._views and not _spare:
                    _spare.append(self.con)
                    return
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
