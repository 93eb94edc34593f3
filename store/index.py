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
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .layout import RunPaths, parse_segment_name
from .liveness import RUNNING, run_state, writer_state
from .reader import StoredRun
from .schema import WRITER_LABEL_KEY
from .segments import list_segments, read_segment
from .syncmark import SYNC_FILE, read_mark, sync_status

INDEX_FILE = "index.duckdb"
INDEX_VERSION = 4
LOCK_WAIT = 1.0
_ATTACH_LOCK = (
    threading.Lock()
)  # seconds a reader waits for another process's catch-up before falling back

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS {s}.segments (
    run_key VARCHAR, path VARCHAR, writer VARCHAR, label VARCHAR, seq INTEGER, sealed BOOLEAN,
    "rows" BIGINT, step_min BIGINT, step_max BIGINT, time_min DOUBLE, time_max DOUBLE,
    sha256 VARCHAR, size BIGINT, mtime_ns BIGINT);
CREATE TABLE IF NOT EXISTS {s}.segment_keys (path VARCHAR, key VARCHAR);
CREATE TABLE IF NOT EXISTS {s}.files (run_key VARCHAR, path VARCHAR, size BIGINT, mtime_ns BIGINT);
"""
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


#: a directory whose mtime is at least this old is trusted not to have changed unseen
#: (coarse mtime granularity on some network filesystems)
DIR_MTIME_SETTLE_NS = 2_000_000_000


def scan_files(
    root: Path, known: dict[str, dict[str, tuple[int, int]]] | None = None
) -> dict[str, dict[str, tuple[int, int]]]:
    """run_key -> {relative path: (size, mtime_ns)} for every file that describes a run.

    Files are only ever added, renamed into place or removed - each changes its directory's
    mtime - except open segments, which grow in place. So a run whose three directories
    (itself, writers/, history/) kept their mtimes, and which had no open segment, is taken
    from `known` without listing it: three stats instead of three listings.
    """
    out: dict[str, dict[str, tuple[int, int]]] = {}
    known = known or {}
    settled = time.time_ns() - DIR_MTIME_SETTLE_NS
    runs = root / "runs"
    try:
        projects = [e for e in os.scandir(runs) if e.is_dir() and not e.name.startswith(".")]
    except FileNotFoundError:
        return out
    for p in projects:
        for r in os.scandir(p.path):
            if not r.is_dir() or r.name.startswith("."):
                continue
            base = f"runs/{p.name}/{r.name}/"
            run_key = f"{p.name}/{r.name}"
            dirs = {}
            for sub in ("", "writers/", "history/"):
                try:
                    dirs[base + sub] = (0, os.stat(r.path + "/" + sub).st_mtime_ns)
                except FileNotFoundError:
                    pass
            prev = known.get(run_key)
            if (
                prev is not None
                and all(prev.get(d) == v and v[1] < settled for d, v in dirs.items())
                and not any(k.endswith(".arrows") for k in prev)
            ):
                out[run_key] = prev
                continue
            files: dict[str, tuple[int, int]] = dict(dirs)
            for sub in ("", "writers/", "history/"):
                try:
                    entries = os.scandir(r.path + "/" + sub) if sub else os.scandir(r.path)
                except FileNotFoundError:
                    continue
                for e in entries:
                    name = e.name
                    if name.startswith(".") or not e.is_file():
                        continue
                    if sub == "" and name not in ("run.json", SYNC_FILE):
                        continue
                    if sub == "history/" and parse_segment_name(name) is None:
                        continue
                    st = e.stat()
                    files[base + sub + name] = (st.st_size, st.st_mtime_ns)
            if base + "run.json" in files:
                out[run_key] = files
    return out


def _value_row(run_key: str, key: str, v: Any) -> tuple[str, str, float | None, str | None, str]:
    num = float(v) if isinstance(v, int | float) else None
    text = v if isinstance(v, str) else (json.dumps(v) if isinstance(v, bool) else None)
    return (run_key, key, num, text, json.dumps(v, default=str))


def _flatten(d: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    """Nested config dicts become dotted keys (config.optimizer.lr), as log() does."""
    for k, v in d.items():
        if isinstance(v, dict) and v:
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


#: sealed segments' index rows by path (immutable, content-addressed: read once per process)
_SEALED_CACHE: dict[str, tuple[tuple[Any, ...], list[str], str | None]] = {}


def _segment_info(
    root: Path, run_key: str, path: Path
) -> tuple[tuple[Any, ...], list[str], str | None]:
    """(segments row, metric keys, warning) for one segment file."""
    if path.suffix == ".parquet":  # sealed: immutable, so read once per process
        hit = _SEALED_CACHE.get(str(path))
        if hit is not None and hit[0][0] == run_key:
            return hit
        out = _segment_info_uncached(root, run_key, path)
        if out[2] is None:
            _SEALED_CACHE[str(path)] = out
        return out
    return _segment_info_uncached(root, run_key, path)


def _segment_info_uncached(
    root: Path, run_key: str, path: Path
) -> tuple[tuple[Any, ...], list[str], str | None]:
    name = parse_segment_name(path.name)
    assert name is not None
    st = path.stat()
    rel = str(path.relative_to(root))
    warning = None
    try:
        if name.sealed:
            pf = pq.ParquetFile(path, read_dictionary=["key"])  # distinct keys, no strings
            md = pf.metadata
            label = (pf.schema_arrow.metadata or {}).get(WRITER_LABEL_KEY, b"").decode()
            keys_col = pf.read(columns=["key"]).column("key")
            keys_col = pa.chunked_array([c.dictionary for c in keys_col.chunks], pa.string())
            table_rows = md.num_rows
            steps, times = _stats(pf)
        else:
            table = read_segment(path)
            label = ((table.schema.metadata or {}).get(WRITER_LABEL_KEY) or b"").decode()
            keys_col = table.column("key")
            table_rows = table.num_rows
            steps, times = _ranges(table)
        keys = pc.unique(keys_col).to_pylist()
    except (pa.ArrowInvalid, OSError, ValueError) as e:
        warning = f"unreadable segment {rel}: {e}"
        label, table_rows, steps, times, keys = "", 0, (None, None), (None, None), []
    row = (
        run_key,
        rel,
        name.writer,
        label,
        name.seq,
        name.sealed,
        table_rows,
        steps[0],
        steps[1],
        times[0],
        times[1],
        name.sha256,
        st.st_size,
        st.st_mtime_ns,
    )
    return row, keys, warning


def _live_segment_info(
    root: Path, run_key: str, path: Path, writer: dict[str, Any]
) -> tuple[tuple[Any, ...], list[str], None]:
    """A live writer's open segment, described from its state file (not read)."""
    name = parse_segment_name(path.name)
    assert name is not None
    st = path.stat()
    step = writer.get("step")
    beat = writer.get("heartbeat_at")
    row = (
        run_key,
        str(path.relative_to(root)),
        name.writer,
        writer.get("label") or "",
        name.seq,
        False,
        None,
        None,
        step if isinstance(step, int) and step >= 0 else None,
        None,
        beat,
        None,
        st.st_size,
        st.st_mtime_ns,
    )
    keys = [k for k in writer.get("summary") or {} if not k.startswith("_")]
    return row, keys, None


def _minmax(col: pa.ChunkedArray) -> tuple[Any, Any]:
    if len(col) == 0:
        return None, None
    mm = pc.min_max(col).as_py()
    return mm["min"], mm["max"]


def _ranges(table: pa.Table) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """(step min, max) and (time min, max in epoch seconds) of a history table."""
    t0, t1 = _minmax(table.column("time").cast(pa.int64()))
    return _minmax(table.column("step")), (
        t0 / 1e6 if t0 is not None else None,
        t1 / 1e6 if t1 is not None else None,
    )


def _stats(pf: pq.ParquetFile) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Step and time ranges from the row-group statistics (no data read)."""
    md = pf.metadata
    names = [md.schema.column(i).name for i in range(md.num_columns)]
    si, ti = names.index("step"), names.index("time")
    smin = smax = tmin = tmax = None
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        s, t = rg.column(si).statistics, rg.column(ti).statistics
        if s is None or not s.has_min_max or t is None or not t.has_min_max:
            return _ranges(pf.read(columns=["step", "time"]))
        smin = s.min if smin is None else min(smin, s.min)
        smax = s.max if smax is None else max(smax, s.max)
        tmn, tmx = _epoch(t.min), _epoch(t.max)
        tmin = tmn if tmin is None else min(tmin, tmn)
        tmax = tmx if tmax is None else max(tmax, tmx)
    return (smin, smax), (tmin, tmax)


def _epoch(v: Any) -> float:
    if hasattr(v, "timestamp"):
        return float(v.timestamp())
    return float(v) / 1e6


class Index:
    """An in-memory DuckDB view of a store, caught up with its files."""

    def __init__(
        self,
        root: Path | str,
        *,
        persist: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.root = Path(root)
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
                    for t in MEMORY_TABLES:
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
    def catch_up(self, schema: str = "main") -> CatchUp:
        """Bring `schema`'s tables in line with the files; returns what it did."""
        stats = CatchUp()
        known: dict[str, dict[str, tuple[int, int]]] = {}
        for run_key, path, size, mtime in self.con.execute(
            f"SELECT run_key, path, size, mtime_ns FROM {schema}.files"
        ).fetchall():
            known.setdefault(run_key, {})[path] = (size, mtime)
        on_disk = scan_files(self.root, known)
        stats.runs_seen = len(on_disk)
        changed = [k for k, files in on_disk.items() if known.get(k) != files]
        removed = [k for k in known if k not in on_disk]
        stats.runs_removed = len(removed)
        self._delete(schema, removed + [k for k in changed if k in known])  # new: nothing to drop
        rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES if t != "info"}
        for i, run_key in enumerate(changed):
            seg_count = self._index_run(run_key, on_disk[run_key], rows)
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

    def _index_run(
        self,
        run_key: str,
        files: dict[str, tuple[int, int]],
        rows: dict[str, list[tuple[Any, ...]]],
    ) -> int:
        project, run_id = run_key.split("/", 1)
        paths = RunPaths.of(self.root, project, run_id)
        stored = StoredRun.load(paths)
        if stored is None:
            return 0
        seg_warnings = []
        n_segments = 0
        step_max = -1
        last_time = None
        n_values = 0
        live = {w.get("writer"): w for w in stored.writers if writer_state(w) == RUNNING}
        sealed = []
        for name, path in list_segments(paths.history):
            if name.sealed:
                sealed.append(path.name)
            if not name.sealed and name.writer in live:
                # growing right now: its writer's state file (rewritten every second) says
                # how far it got; reading the stream itself every refresh would cost more
                # the longer the run goes
                seg, keys, warning = _live_segment_info(self.root, run_key, path, live[name.writer])
            else:
                seg, keys, warning = _segment_info(self.root, run_key, path)
            n_segments += 1
            rows["segments"].append(seg)
            rows["segment_keys"].extend((seg[1], k) for k in keys)
            if warning:
                seg_warnings.append(warning)
            n_values += (
                seg[6] if seg[6] is not None else int(live.get(name.writer, {}).get("rows") or 0)
            )
            if seg[8] is not None:
                step_max = max(step_max, seg[8])
            if seg[10] is not None:
                last_time = seg[10] if last_time is None else max(last_time, seg[10])
        m = stored.meta
        git = stored.git
        writers = stored.writers
        ended = [w.get("finished_at") for w in writers if w.get("finished_at")]
        rows["runs"].append(
            (
                run_key,
                project,
                m.get("id", run_id),
                m.get("name"),
                m.get("entity"),
                m.get("group"),
                m.get("job_type"),
                stored.tags,
                m.get("notes"),
                stored.state,
                m.get("created_at"),
                max(ended) if ended else None,
                last_time,
                max(step_max, stored.last_step) + 1,
                n_values,
                m.get("host"),
                m.get("user"),
                " ".join(m.get("command") or []),
                git.get("commit"),
                git.get("branch"),
                git.get("remote"),
                git.get("dirty"),
                stored.error,
                str(paths.dir),
                json.dumps(writers, default=str),
                json.dumps(m, default=str),
                "\n".join(seg_warnings) or None,
                [
                    d["name"]
                    for d in m.get("metrics") or []
                    if d.get("summary") not in (None, "last")
                ],
                sync_status(m, read_mark(paths), sealed),
            )
        )
        rows["config"].extend(_value_row(run_key, k, v) for k, v in _flatten(stored.config))
        rows["summary"].extend(_value_row(run_key, k, v) for k, v in stored.summary.items())
        rows["files"].extend((run_key, p, s, t) for p, (s, t) in files.items())
        return n_segments

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

    def refresh_states(self) -> None:
        """Re-derive the state of runs indexed as running: their process may have died."""
        running = self.con.execute(
            "SELECT run_key, writers FROM runs WHERE state = ?", [RUNNING]
        ).fetchall()
        for run_key, writers in running:
            state = run_state(json.loads(writers))
            if state != RUNNING:
                self.con.execute("UPDATE runs SET state = ? WHERE run_key = ?", [state, run_key])

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
