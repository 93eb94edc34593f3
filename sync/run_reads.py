"""Reading a run on the server with bounded memory, whatever its size.

Every read goes through DuckDB over the run's sealed segments with a memory limit (it spills
to `.uploads/` beyond), one thread, and an answer of bounded size:

- history as JSON comes in pages of at most `page_rows` logged values, in (step, writer,
  key) order, with a cursor for the next page;
- history as Arrow streams batch by batch, never the whole table;
- a chart is `store.query.downsample` - min, max and last per bucket, as the local UI
  draws it - on a one-run view of the segments, so its answer is buckets x keys rows. The
  view lists each segment as the index would (its writer, number and step range, from the
  file name and the Parquet footer), so the chart reads what a local chart reads: a long
  run's pyramids, and a copy's journal-sealed segment cut where the writer's own seals reach
  (store/recovered_overlap.py), each row counted once.

A segment that cannot be read (a corrupt file, or one stored before values were checked) is
skipped with a warning naming it, and listed in the answer's `skipped`; the rest is served.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flightlog.store.index import SEGMENTS
from flightlog.store.layout import RunPaths
from flightlog.store.pyramid import Pyramids, pyramid_dir
from flightlog.store.pyramid_query import footer_steps
from flightlog.store.query import downsample, values_at
from flightlog.store.reader import StoredRun
from flightlog.store.schema import (
    HISTORY_SCHEMA,
    MEDIA,
    WRITER_ID_KEY,
    WRITER_LABEL_KEY,
    decode_value,
    validate_history_table,
)
from flightlog.store.segments import list_segments

from .limits import ServerLimits
from .receive import STREAMS
from .refused import Refused

log = logging.getLogger("flightlog.server")
ARROW_BATCH = 8192
T = TypeVar("T")
TIDY_SCHEMA = HISTORY_SCHEMA.append(pa.field("writer", pa.string()))


@dataclass(frozen=True)
class _Footer:
    """What a readable segment's Parquet footer says of it."""

    label: str
    steps: tuple[int, int] | None  # (lowest, highest) step, None without statistics


#: (path, size, mtime) -> footer, or None for a segment to skip; sealed segments never
#: change, so each is checked once per server process
_footers: dict[tuple[str, int, int], _Footer | None] = {}
_footers_lock = threading.Lock()


def _footer(path: Path) -> _Footer | None:
    """The footer of a readable segment (one read of it), or None if unreadable."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _footers_lock:
        if key in _footers:
            return _footers[key]
    footer: _Footer | None
    try:
        md = pq.read_metadata(path)
        schema = md.schema.to_arrow_schema()
        validate_history_table(schema.empty_table())
        meta = schema.metadata or {}
        label = (meta.get(WRITER_LABEL_KEY) or meta.get(WRITER_ID_KEY) or b"").decode()
        footer = _Footer(label, footer_steps(md))
    except Exception as e:  # any unreadable file is skipped, whatever pyarrow raised
        log.warning("skipping unreadable segment %s: %s", path, e)
        footer = None
    with _footers_lock:
        if len(_footers) > 100_000:
            _footers.clear()
        _footers[key] = footer
    return footer


def load_run(
    store: Any, entity: str, project: str, run_id: str, stream: str | None = None
) -> StoredRun:
    """The run as `store` has it (404 run_not_found when it has none). With a `stream` to
    read (checked first: 'history' or 'system'), the run's segments are brought up to date
    too (a replica's cache, from the catalog)."""
    if stream is not None and stream not in STREAMS:
        raise Refused("stream is 'history' or 'system'", "invalid")
    run = StoredRun.load(store.readable(entity, project, run_id))
    if run is None:
        raise Refused(f"no run {entity}/{project}/{run_id}", "run_not_found", 404)
    if stream is not None:
        store.fetch_segments(entity, project, run_id)
    return run


def encode_cursor(row: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(row)).encode()).decode()


def decode_cursor(cursor: str) -> list[Any]:
    try:
        row = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(row, list) and len(row) == 5 and isinstance(row[0], int):
            return row
    except ValueError:
        pass
    raise Refused("invalid cursor: pass the `next` of the previous page unchanged", "invalid")


@dataclass
class Segment:
    path: Path
    label: str
    writer: str  # the writer id and number of the file's name
    seq: int
    steps: tuple[int, int] | None


@dataclass
class RunReader:
    """The readable sealed segments of one stream of one run, and the reads over them."""

    paths: RunPaths
    stream: str
    limits: ServerLimits
    spill: Path
    created_at: float = 0.0
    segments: list[Segment] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name, path in list_segments(self.paths.stream(self.stream)):
            footer = _footer(path) if name.sealed else None
            if footer is None:
                self.skipped.append(path.name)
            else:
                label = footer.label or name.writer
                self.segments.append(Segment(path, label, name.writer, name.seq, footer.steps))

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(config={"threads": 1, "memory_limit": f"{self.limits.read_memory}B"})
        con.execute("SET temp_directory = ?", [str(self.spill)])
        con.execute("SET preserve_insertion_order = false")
        return con

    def _skip(self, seg: Segment, why: object) -> None:
        """Leave a segment out, now and in later requests (sealed segments never change)."""
        log.warning("skipping unreadable segment %s: %s", seg.path, why)
        self.segments.remove(seg)
        self.skipped.append(seg.path.name)
        with _footers_lock:
            for key in [k for k in _footers if k[0] == str(seg.path)]:
                _footers[key] = None

    # -- history as JSON, a page at a time -------------------------------------------------
    def page(
        self, keys: list[str] | None, after: list[Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` logged values after the cursor `after`, as rows (one dict per writer
        and step; a row cut by the page's end continues on the next page)."""
        while True:
            tidy = self._page_tidy(keys, after, limit)
            try:
                rows = self._rows(tidy)
            except _BadSegment as e:
                self._skip(e.segment, e.cause)
                continue
            last = tidy[-1] if len(tidy) == limit else None
            return rows, (encode_cursor(last[:5]) if last else None)

    def _page_tidy(
        self, keys: list[str] | None, after: list[Any] | None, limit: int
    ) -> list[tuple[Any, ...]]:
        where, params = ["true"], {"limit": limit}
        if keys is not None:
            where.append("p.key IN (SELECT unnest($keys::VARCHAR[]))")
            params["keys"] = keys
        if after is not None:
            where.append(
                "(p.step, f.label, p.key, f.seg, p.file_row_number) > ($a0, $a1, $a2, $a3, $a4)"
            )
            where.append("p.step >= $a0")  # the same, in a form Parquet statistics can skip by
            params.update({f"a{i}": v for i, v in enumerate(after)})
        sql = (
            "SELECT p.step, f.label, p.key, f.seg, p.file_row_number, epoch_us(p.time), "
            "p.value, p.kind, p.text FROM read_parquet($files, filename=true, "
            "file_row_number=true) p JOIN f USING (filename) WHERE "
            + " AND ".join(where)
            + " ORDER BY p.step, f.label, p.key, f.seg, p.file_row_number LIMIT $limit"
        )

        def page(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
            return con.execute(sql, {**params, "files": self._paths()}).fetchall()

        too_large = (
            "this page needs more memory than the server gives one read: ask for fewer rows "
            "(limit=)"
        )
        return self._select(page, too_large) or []

    def rows(self) -> int:
        """The rows `page` reads, one a writer and step, counted in DuckDB within the read
        memory (it spills beyond), a writer's files at a time (a join to their labels made
        the count run out of memory where this spills): a set of the steps in Python took a
        byte or more a step, unbounded (10^8 steps: 100 MB) on a server every account
        shares."""

        def count(con: duckdb.DuckDBPyConnection) -> int:
            by_label: dict[str, list[str]] = {}
            for seg in self.segments:
                by_label.setdefault(seg.label, []).append(str(seg.path))
            sql = "SELECT count(DISTINCT step) FROM read_parquet($files)"
            return sum(con.execute(sql, {"files": f}).fetchall()[0][0] for f in by_label.values())

        too_large = (
            "counting this run's rows needs more memory than the server gives one read "
            "(its --read-memory-mb)"
        )
        return self._select(count, too_large) or 0

    def _select(self, query: Callable[[duckdb.DuckDBPyConnection], T], too_large: str) -> T | None:
        """`query` over the readable segments (`f`: their labels), None without any: a
        segment that fails mid-read is skipped and the query run again; past the read
        memory, 413 `too_large` saying so."""
        while self.segments:
            con = self._connect()
            try:
                con.register("f", self._files_table())
                return query(con)
            except duckdb.OutOfMemoryException:
                raise Refused(too_large, "too_large", 413) from None
            except duckdb.Error as e:  # a file that fails mid-read: find it, skip it, go on
                bad = next((s for s in self.segments if str(s.path) in str(e)), None)
                if bad is None:
                    raise
                self._skip(bad, e)
            finally:
                con.close()
        return None

    def _paths(self) -> list[str]:
        return [str(s.path) for s in self.segments]

    def _files_table(self) -> pa.Table:
        return pa.table(
            {
                "filename": self._paths(),
                "label": [s.label for s in self.segments],
                "seg": [s.path.name for s in self.segments],
            }
        )

    def _rows(self, tidy: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        current: dict[str, Any] | None = None
        for step, label, key, seg, _, us, value, kind, text in tidy:
            if current is None or current["_step"] != step or current["_writer"] != label:
                t = us / 1e6
                current = {
                    "_step": step,
                    "_timestamp": t,
                    "_runtime": t - self.created_at,
                    "_writer": label,
                }
                rows.append(current)
            try:
                if None in (step, us, key) or not 0 <= kind <= MEDIA:
                    raise ValueError(f"invalid row: step {step}, key {key!r}, kind {kind}")
                current[key] = decode_value(value, kind, text)
            except Exception as e:  # a value stored before values were checked
                raise _BadSegment(next(s for s in self.segments if s.path.name == seg), e) from e
        return rows

    # -- history as Arrow, streamed ----------------------------------------------------------
    def arrow_stream(self, keys: list[str] | None) -> Iterator[bytes]:
        """The tidy table (plus `writer`) as one Arrow IPC stream, a batch at a time."""
        sink = io.BytesIO()
        want = pa.array(keys, pa.string()) if keys is not None else None
        with pa.ipc.new_stream(sink, TIDY_SCHEMA) as out:
            for seg in list(self.segments):
                try:
                    pf = pq.ParquetFile(seg.path)
                    for b in pf.iter_batches(batch_size=ARROW_BATCH, use_threads=False):
                        if want is not None:
                            b = b.filter(pc.is_in(b.column("key"), want))
                        cols = [*b.columns, pa.repeat(seg.label, b.num_rows)]
                        out.write_batch(pa.RecordBatch.from_arrays(cols, schema=TIDY_SCHEMA))
                        yield _drain(sink)
                except (OSError, pa.ArrowException) as e:
                    self._skip(seg, e)
        yield _drain(sink)

    # -- charts ------------------------------------------------------------------------------
    def chart(
        self,
        keys: list[str] | None,
        buckets: int,
        x: str,
        x_range: tuple[float, float] | None = None,
    ) -> pa.Table:
        """min/max/last per bucket per key (every key: None): the local UI's `downsample`,
        in DuckDB, over the whole run or `x_range` (a zoomed chart)."""
        return self._query(lambda one: downsample(one, ["run"], keys, buckets, x, x_range))

    def cursor(self, keys: list[str], at: float, x: str, window: float | None) -> pa.Table:
        """The stored values nearest x = `at` (a chart's step cursor): `values_at`."""
        return self._query(lambda one: values_at(one, ["run"], keys, at, x, window))

    def _query(self, fn: Callable[[Any], pa.Table]) -> pa.Table:
        con = self._connect()
        try:
            return fn(_OneRun(con, self))
        except duckdb.OutOfMemoryException:
            raise Refused(
                "this chart needs more memory than the server gives one read: ask for "
                "fewer keys or buckets",
                "too_large",
                413,
            ) from None
        except ValueError as e:
            raise Refused(str(e), "invalid") from None
        finally:
            con.close()


def _drain(sink: io.BytesIO) -> bytes:
    data = sink.getvalue()
    sink.seek(0)
    sink.truncate()
    return data


class _BadSegment(Exception):
    def __init__(self, segment: Segment, cause: Exception) -> None:
        super().__init__(str(cause))
        self.segment = segment
        self.cause = cause


class _OneRun:
    """What `downsample` needs of an Index (`con`, `root`, `arrow()` and a `segments`
    table), for the readable segments of one run: no index file, no catch-up. The table has
    the columns store/query.py reads of an index's rows (writer, number, step range)."""

    root = Path("/")

    def __init__(self, con: duckdb.DuckDBPyConnection, reader: RunReader) -> None:
        self.con = con
        self.pyramids = Pyramids(pyramid_dir(reader.spill.parent), build=False)  # its index's
        con.execute(f"CREATE TEMP TABLE segments {SEGMENTS}")  # the index's own columns
        if reader.segments:  # only readable segments: none is damaged (damage is null)
            # one INSERT from Arrow: executemany costs 1.5-3.5 ms a row (a 10^7-step run has 20
            # segments: 30-70 ms of a ~200 ms chart)
            segs = reader.segments
            steps = [s.steps or (None, None) for s in segs]
            listed = {
                "path": [str(s.path) for s in segs],
                "writer": [s.writer for s in segs],
                "label": [s.label for s in segs],
                "seq": pa.array([s.seq for s in segs], pa.int32()),
                "step_min": pa.array([lo for lo, _ in steps], pa.int64()),
                "step_max": pa.array([hi for _, hi in steps], pa.int64()),
            }
            con.register("_listed", pa.table(listed))
            con.execute(
                "INSERT INTO segments (run_key, path, writer, label, seq, sealed, step_min, "
                "step_max) SELECT 'run', path, writer, label, seq, true, step_min, step_max "
                "FROM _listed"
            )
            con.unregister("_listed")

    def arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        return self.con.sql(sql, params=params).to_arrow_table()
