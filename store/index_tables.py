"""index.duckdb's tables: their schema, and reading and writing a batch of runs' rows.

What store/index.py's Index catches up, by table. A run is described in two tiers
(store/describe.py): its `runs`, `config` and `summary` rows from run.json and its writers'
state files, enough to list, sort and filter it by name, state, start, group, tags, config
and summary; and its segments (`segments`, `segment_keys`, and the `runs` columns they
give: steps, values, last_time) from its history files. A run described in the first tier
only is `partial`: those columns are NULL (not known) until the second.

Before either, a listing's first build may hold a run as a `stub` (partial too): its key,
project, id and start from its project's ledger (store/run_ledger.py), nothing read of its
files, no stamp; store/catalog.py describes stubs before it shows them or answers a query
that reads anything but their start.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Sequence
from contextlib import suppress
from functools import cache
from typing import TYPE_CHECKING, Any

import duckdb

from .scan import Files, Stamp

if TYPE_CHECKING:  # (pyarrow loads when rows are written: a listing that writes none needs none)
    import pyarrow as pa

#: 7: run stamps (store/scan.py); 8: partial runs (two tiers); 9: stub runs (the ledger's)
INDEX_VERSION = 9

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
    meta VARCHAR, warnings VARCHAR, defined_metrics VARCHAR[], sync VARCHAR,
    partial BOOLEAN, stub BOOLEAN);
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


Rows = dict[str, list[tuple[Any, ...]]]  # table name -> rows to insert


#: table -> its columns, in order (what a row tuple holds), with their types, read from
#: SCHEMA (no type of which has a comma)
_DECLARED = {
    name: [col.split()[:2] for col in body.split(",")]
    for name, body in re.findall(r"\{s\}\.(\w+) \((.*?)\);", SCHEMA, re.S)
}
#: table -> its column names, in order
NAMES = {name: tuple(n.strip('"') for n, _ in cols) for name, cols in _DECLARED.items()}


@cache
def columns() -> dict[str, pa.Schema]:
    """Table -> the Arrow schema its inserted rows take (asking DuckDB at each insert is a
    statement a table a batch; typed, Arrow need not infer each column's type from its
    Python values: ~30% of an insert)."""
    import pyarrow as pa

    arrow = {
        "VARCHAR": pa.string(),
        "BIGINT": pa.int64(),
        "INTEGER": pa.int32(),
        "DOUBLE": pa.float64(),
        "BOOLEAN": pa.bool_(),
        "VARCHAR[]": pa.list_(pa.string()),
    }
    return {
        name: pa.schema([(n.strip('"'), arrow[t]) for n, t in cols])
        for name, cols in _DECLARED.items()
    }


def runs_update(names: Sequence[str], rows: list[tuple[Any, ...]]) -> pa.Table:
    """`rows` of these `runs` columns (run_key first) as write_rows' `update` table."""
    import pyarrow as pa

    return arrow_rows(pa.schema(columns()["runs"].field(n) for n in names), rows)


_IN = "run_key IN (SELECT unnest(?::VARCHAR[]))"


def read_stamps(
    con: duckdb.DuckDBPyConnection, schema: str, run_keys: Collection[str] | None
) -> dict[str, Stamp]:
    """The stamps of the runs the index holds (of `run_keys` only, if given)."""
    only = "" if run_keys is None else f" WHERE {_IN}"
    rows = con.execute(
        f"SELECT run_key, run_dir, writers_dir, history_dir, open, quiet "
        f"FROM {schema}.stamps{only}",
        [] if run_keys is None else [list(run_keys)],
    ).fetchall()
    return {r[0]: Stamp((r[1], r[2], r[3]), bool(r[4]), bool(r[5])) for r in rows}


def read_stubs(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    run_keys: Collection[str] | None,
    where: str = "TRUE",
) -> dict[str, float]:
    """The runs the index holds as stubs (of `run_keys` only, if given; `where`: a
    condition on their rows), and their starts."""
    only = "" if run_keys is None else f" AND {_IN}"
    rows = con.execute(
        f"SELECT run_key, created_at FROM {schema}.runs WHERE stub AND ({where}){only}",
        [] if run_keys is None else [list(run_keys)],
    ).fetchall()
    return dict(rows)


def read_files(
    con: duckdb.DuckDBPyConnection, schema: str, run_keys: list[str]
) -> dict[str, Files]:
    """The files the index saw of `run_keys`, as the scan lists them."""
    out: dict[str, Files] = {}
    if not run_keys:
        return out
    for run_key, path, size, mtime in con.execute(
        f"SELECT run_key, path, size, mtime_ns FROM {schema}.files WHERE {_IN}", [run_keys]
    ).fetchall():
        out.setdefault(run_key, {})[path] = (size, mtime)
    return out


#: the tables holding a run's rows, in the order they are dropped (segment_keys names its
#: segments by path: dropped before them)
RUN_TABLES = ("segment_keys", "segments", "runs", "config", "summary", "files", "stamps")
SEGMENT_TABLES = RUN_TABLES[:2]


def write_rows(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    rows: Rows,
    gone: Sequence[str] = (),
    drop: Sequence[str] = RUN_TABLES,
    update: pa.Table | None = None,
    kept: Collection[str] = (),
) -> None:
    """Drop the `drop` tables' rows of the runs `gone` (but the `runs` and `config` rows of
    those `kept`), append `rows` to their tables, and
    set `update`'s runs columns (a table with run_key and the columns to set), as one
    transaction of statements: a catch-up of the few runs that train costs one call into
    DuckDB, not a statement a table (~1 ms each on a busy machine, every 2 s of a live
    refresh)."""
    import pyarrow as pa

    sql: list[str] = []
    tables: dict[str, pa.Table] = {}
    # (runs described again lose their `runs` rows and get new ones: an INSERT OR REPLACE by
    # the primary key costs twice a DELETE and an INSERT)
    if gone:
        keep = set(kept)
        tables["_gone"] = pa.table(
            {
                "run_key": pa.array(list(gone), pa.string()),
                "kept": pa.array([k in keep for k in gone], pa.bool_()),
            }
        )
        within = "run_key IN (SELECT run_key FROM _gone)"
        for t in drop:
            if t == "segment_keys":
                sql.append(
                    f"DELETE FROM {schema}.segment_keys WHERE path IN "
                    f"(SELECT path FROM {schema}.segments WHERE {within})"
                )
            elif t in ("runs", "config") and keep:
                sql.append(
                    f"DELETE FROM {schema}.{t} WHERE run_key IN "
                    "(SELECT run_key FROM _gone WHERE NOT kept)"
                )
            else:
                sql.append(f"DELETE FROM {schema}.{t} WHERE {within}")
    for table, values in rows.items():
        if values:
            tables[f"_in_{table}"] = arrow_rows(columns()[table], values)
            sql.append(f"INSERT INTO {schema}.{table} SELECT * FROM _in_{table}")
    if update is not None and update.num_rows:
        tables["_update"] = update
        sets = ", ".join(f'"{c}" = u."{c}"' for c in update.column_names if c != "run_key")
        sql.append(f"UPDATE {schema}.runs SET {sets} FROM _update u WHERE runs.run_key = u.run_key")
    if sql:  # one transaction, one commit (one WAL write), and one call
        try:
            _run_script(con, ";\n".join(["BEGIN TRANSACTION", *sql, "COMMIT"]), **tables)
        except BaseException:
            with suppress(duckdb.Error):  # (no transaction left to roll back)
                con.execute("ROLLBACK")
            raise


def _run_script(
    con: duckdb.DuckDBPyConnection,
    script: str,
    _gone: pa.Table | None = None,
    _update: pa.Table | None = None,
    _in_runs: pa.Table | None = None,
    _in_config: pa.Table | None = None,
    _in_summary: pa.Table | None = None,
    _in_segments: pa.Table | None = None,
    _in_segment_keys: pa.Table | None = None,
    _in_files: pa.Table | None = None,
    _in_stamps: pa.Table | None = None,
) -> None:
    """Run `script`, whose statements read the Arrow tables passed by these names: DuckDB
    finds each among the local variables of the frame that calls it (a replacement scan),
    at half the cost of registering it with the connection and unregistering it (~0.5 ms
    a table, 8 a live refresh)."""
    con.execute(script)


def arrow_rows(schema: pa.Schema, rows: list[tuple[Any, ...]]) -> pa.Table:
    """`rows` as a table of `schema`; a value of another type (run.json may hold anything
    that coercion missed) leaves Arrow to infer the column and DuckDB to cast it."""
    import pyarrow as pa

    # rows to columns, in one pass (no rows: a run described meanwhile deleted, in `complete`)
    values = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in schema]
    try:
        return pa.table(values, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.table(dict(zip(schema.names, values, strict=True)))


def stamp_row(run_key: str, stamp: Stamp) -> tuple[Any, ...]:
    return (run_key, *stamp.dirs, stamp.open, stamp.quiet)
