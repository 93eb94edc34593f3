"""Describing one run's files as index rows: its segments, its metadata, config and summary.

Two promises make a listing survive anything a store holds:

- A segment that disappears between listing and reading (sealed into its Parquet twin,
  removed with its run) is described from its twin, or left out; a segment that fails its
  checksum is described as damaged (the queries skip it) with a warning naming it.
- run.json may hold anything: written by an older version, edited by hand, uploaded by
  someone else, or unreadable. Every field is coerced to its column's type (a problem noted
  as a warning, so the run is listed with `!`); a run is never left out, and never breaks the
  listing of the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .integrity import SegmentDamaged, check_sha256
from .journal import list_journals
from .layout import RunPaths, SegmentName, parse_segment_name, split_run_key
from .liveness import RUNNING, writer_state
from .pyramid import build_when_described
from .reader import StoredRun, text_list
from .schema import WRITER_LABEL_KEY
from .segments import list_segments, read_segment_checked, sealed_twin
from .syncmark import read_mark, sync_status

Row = tuple[Any, ...]
Rows = dict[str, list[Row]]  # table name -> rows to insert


class Segment:
    """One segment's `segments` row, its metric keys, and what is wrong with it (if anything)."""

    __slots__ = ("keys", "row", "warning")

    def __init__(self, row: Row, keys: list[str], warning: str | None) -> None:
        self.row, self.keys, self.warning = row, keys, warning

    @property
    def values(self) -> int | None:
        return self.row[6]

    @property
    def step_max(self) -> int | None:
        return self.row[8]

    @property
    def time_max(self) -> float | None:
        return self.row[10]


#: sealed segments by (path, size, mtime): immutable and content-addressed, so each is read
#: (and its sha256 verified) once per process, and once per index file
_SEALED_CACHE: dict[tuple[str, int, int], Segment] = {}


def describe_segment(
    root: Path, run_key: str, name: SegmentName, path: Path, live: dict[str, Any] | None
) -> Segment | None:
    """A listed segment, or its sealed twin if it was sealed since; None if it is gone."""
    try:
        return _describe(root, run_key, name, path, live)
    except FileNotFoundError:
        twin = None if name.sealed else sealed_twin(path.parent, name)
        twin_name = parse_segment_name(twin.name) if twin is not None else None
        if twin is None or twin_name is None:
            return None  # removed (its run deleted): not part of this listing
        try:
            return _describe(root, run_key, twin_name, twin, None)
        except FileNotFoundError:
            return None


def _describe(
    root: Path, run_key: str, name: SegmentName, path: Path, live: dict[str, Any] | None
) -> Segment:
    st = path.stat()
    rel = str(path.relative_to(root))
    base = (run_key, rel, name.writer)
    tail = (name.sha256, st.st_size, st.st_mtime_ns)
    if live is not None:
        # growing right now: its writer's state file (rewritten every second) says how far it
        # got; reading the stream itself every refresh would cost more the longer it runs
        step = live.get("step")
        row = (*base, _text(live.get("label")) or "", name.seq, False, None, None)
        row += (step if type(step) is int and step >= 0 else None, None)
        row += (_number(live.get("heartbeat_at")), *tail, None)
        summary = live.get("summary")
        keys = [k for k in summary if not k.startswith("_")] if isinstance(summary, dict) else []
        return Segment(row, keys, None)
    cache_key = (rel, st.st_size, st.st_mtime_ns)
    if name.sealed and cache_key in _SEALED_CACHE and _SEALED_CACHE[cache_key].row[0] == run_key:
        return _SEALED_CACHE[cache_key]
    try:
        label, rows, steps, times, keys, note = _read(root, path, name)
        damage = None
    except (SegmentDamaged, pa.ArrowException, OSError, ValueError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        label, rows, steps, times, keys = "", 0, (None, None), (None, None), []
        note = damage = f"unreadable segment {rel}: {e}"
    row = (*base, label, name.seq, name.sealed, rows, *steps, *times, *tail, damage)
    out = Segment(row, keys, note)
    if name.sealed:
        _SEALED_CACHE[cache_key] = out
    return out


def _read(
    root: Path, path: Path, name: SegmentName
) -> tuple[str, int, tuple[Any, Any], tuple[Any, Any], list[str], str | None]:
    """(label, rows, step range, time range, metric keys, damage note) of a segment."""
    if not name.sealed:
        table, note = read_segment_checked(path)
        label = ((table.schema.metadata or {}).get(WRITER_LABEL_KEY) or b"").decode()
        keys = pc.unique(table.column("key")).to_pylist()
        return label, table.num_rows, *_ranges(table), keys, note
    with open(path, "rb") as f:
        data = f.read()
    assert name.sha256 is not None
    check_sha256(data, name.sha256, str(path))  # the one verification: remembered after
    pf = pq.ParquetFile(pa.BufferReader(data), read_dictionary=["key"])  # no strings decoded
    build_when_described(root, name.sha256, pf)  # a long run's chart pyramid, once
    label = (pf.schema_arrow.metadata or {}).get(WRITER_LABEL_KEY, b"").decode()
    # one thread: a thread pool per segment costs more than it saves (a cold index build)
    keys_col = pf.read(columns=["key"], use_threads=False).column("key")
    keys_col = pa.chunked_array([c.dictionary for c in keys_col.chunks], pa.string())
    return label, pf.metadata.num_rows, *_stats(pf), pc.unique(keys_col).to_pylist(), None


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


# -- run metadata --------------------------------------------------------------------------
def _text(v: Any) -> str | None:
    """A text column's value: strings as they are, anything else as its JSON text."""
    if v is None or isinstance(v, str):
        return v
    return json.dumps(v, default=str)


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _flatten(d: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    """Nested config dicts become dotted keys (config.optimizer.lr), as log() does."""
    for k, v in d.items():
        if isinstance(v, dict) and v:
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _value_row(run_key: str, key: str, v: Any) -> Row:
    num = float(v) if isinstance(v, int | float) else None
    text = v if isinstance(v, str) else (json.dumps(v) if isinstance(v, bool) else None)
    return (run_key, key, num, text, json.dumps(v, default=str))


class _Meta:
    """run.json's fields, each coerced to its column's type; what needed coercing is noted."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta
        self.problems: list[str] = []

    def _odd(self, field: str, v: Any, shown: str) -> None:
        self.problems.append(f"run.json: {field} is {type(v).__name__} {v!r:.60}, {shown}")

    def text(self, field: str) -> str | None:
        v = self.meta.get(field)
        if v is not None and not isinstance(v, str):
            self._odd(field, v, "shown as text")
        return _text(v)

    def number(self, field: str) -> float | None:
        v = self.meta.get(field)
        if v is not None and _number(v) is None:
            self._odd(field, v, "ignored")
        return _number(v)

    def strings(self, field: str) -> list[str]:
        v = self.meta.get(field)
        if v is None:
            return []
        if isinstance(v, str):
            self._odd(field, v, "read as one item")
            return [v]
        if not isinstance(v, list):
            self._odd(field, v, "ignored")
            return []
        if not all(isinstance(x, str) for x in v):
            self._odd(field, v, "items shown as text")
        return text_list(v)

    def mapping(self, field: str) -> dict[str, Any]:
        v = self.meta.get(field)
        if v is None:
            return {}
        if not isinstance(v, dict):
            self._odd(field, v, "ignored")
            return {}
        return v


def describe_run(root: Path, run_key: str, files: dict[str, tuple[int, int]], rows: Rows) -> int:
    """Append one run's rows to `rows`; returns how many segments it has.

    Whatever its files hold, the run gets its `runs` row: metadata that does not fit is
    coerced and noted, and if describing it fails anyway, a bare row says why."""
    paths = RunPaths.of_key(root, run_key)
    stored = StoredRun.load_any(paths)
    if stored.problem and not paths.dir.is_dir():
        return 0  # the run was deleted since the listing
    out: Rows = {t: [] for t in rows}
    try:
        n = _describe_run(root, run_key, stored, files, out)
    except Exception as e:  # one run's oddity must not hide the others
        out = {t: [] for t in rows}
        out["runs"].append(_bare_run_row(run_key, paths, f"cannot index this run: {e!r}"))
        out["files"].extend((run_key, p, s, t) for p, (s, t) in files.items())
        n = 0
    for t, values in out.items():
        rows[t].extend(values)
    return n


def _bare_run_row(run_key: str, paths: RunPaths, warning: str) -> Row:
    """A `runs` row from the directory alone: listed, marked, nothing guessed."""
    entity, project, run_id = split_run_key(run_key)
    ids = (run_key, project, run_id, run_id)  # run_key, project, id, name
    nothing = (entity, None, None)  # entity, group, job_type
    counts = (None, None, None, 0, 0)  # created_at, ended_at, last_time, steps, values
    more = (None,) * 8  # host ... git_dirty, error
    return (
        *ids,
        *nothing,
        [],
        None,
        None,
        *counts,
        *more,
        str(paths.dir),
        "[]",
        "{}",
        warning,
        [],
        None,
    )


def _describe_run(
    root: Path, run_key: str, stored: StoredRun, files: dict[str, tuple[int, int]], rows: Rows
) -> int:
    entity, project, run_id = split_run_key(run_key)
    warnings = [stored.problem] if stored.problem else []
    live = {w.get("writer"): w for w in stored.writers if writer_state(w) == RUNNING}
    step_max, last_time, n_values, n_segments = -1, None, 0, 0
    sealed = []
    for name, path, journal in _listed(stored.paths.history, live):
        if journal:
            seg = _describe_journal(root, run_key, name, path)
        else:
            # a sealed segment is complete: described from its file even while its writer
            # runs (on a server every segment is sealed, and the writer's state lags uploads)
            growing = None if name.sealed else live.get(name.writer)
            seg = describe_segment(root, run_key, name, path, growing)
        if seg is None:
            continue
        if seg.row[5]:
            sealed.append(Path(seg.row[1]).name)
        n_segments += 1
        rows["segments"].append(seg.row)
        rows["segment_keys"].extend((seg.row[1], k) for k in seg.keys)
        if seg.warning:
            warnings.append(seg.warning)
        n_values += seg.values if seg.values is not None else _count(live, name.writer)
        if seg.step_max is not None:
            step_max = max(step_max, seg.step_max)
        if seg.time_max is not None:
            last_time = seg.time_max if last_time is None else max(last_time, seg.time_max)
    m = _Meta(stored.meta)
    git = _Meta(m.mapping("git"))
    ended = [e for w in stored.writers if (e := _number(w.get("finished_at")))]
    command = m.meta.get("command")
    metrics = m.meta.get("metrics")
    defined = [
        _text(d.get("name")) or ""
        for d in (metrics if isinstance(metrics, list) else [])
        if isinstance(d, dict) and d.get("summary") not in (None, "last")
    ]
    config = m.mapping("config")
    entity, project = _entity_project(entity, project, m)
    run_row = (
        run_key,
        project,
        m.text("id") or run_id,
        m.text("name") or run_id,  # a run.json without one (unreadable, old) shows the id
        entity,
        m.text("group"),
        m.text("job_type"),
        m.strings("tags"),
        m.text("notes"),
        stored.state,
        m.number("created_at"),
        max(ended) if ended else None,
        last_time,
        max(step_max, stored.last_step) + 1,
        n_values,
        m.text("host"),
        m.text("user"),
        " ".join(map(str, command)) if isinstance(command, list) else _text(command),
        git.text("commit"),
        git.text("branch"),
        git.text("remote"),
        git.meta.get("dirty") if isinstance(git.meta.get("dirty"), bool) else None,
        _text(stored.error),
        str(stored.paths.dir),
        json.dumps(stored.writers, default=str),
        json.dumps(stored.meta, default=str),
        "\n".join(warnings + m.problems + git.problems) or None,
        defined,
        sync_status(stored.meta, read_mark(stored.paths), sealed),
    )
    rows["runs"].append(run_row)
    rows["config"].extend(_value_row(run_key, k, v) for k, v in _flatten(config))
    rows["summary"].extend(_value_row(run_key, k, v) for k, v in stored.summary.items())
    rows["files"].extend((run_key, p, s, t) for p, (s, t) in files.items())
    return n_segments


def _entity_project(entity: str | None, project: str, m: _Meta) -> tuple[str | None, str]:
    """The run's entity and project: from its path, else from run.json. A server root of an
    earlier version kept entity E's project P in runs/E.P/, with both names in run.json:
    read as E / P, the same as the server's current runs/@E/P/."""
    if entity is not None:
        return entity, project
    said_entity, said_project = m.meta.get("entity"), m.meta.get("project")
    if (
        isinstance(said_entity, str)
        and isinstance(said_project, str)
        and project == f"{said_entity}.{said_project}"
    ):
        return said_entity, said_project
    return m.text("entity"), project


def _listed(history: Path, live: dict[Any, dict[str, Any]]) -> list[tuple[SegmentName, Path, bool]]:
    """The segments, then the journals of writers not running (a running one's progress is
    in its state file): their rows that no segment holds (a writer killed, not recovered)."""
    out = [(name, path, False) for name, path in list_segments(history)]
    for j, path in list_journals(history):
        if j.writer not in live:
            out.append((SegmentName(j.writer, j.jseq, None, False), path, True))
    return out


def _describe_journal(root: Path, run_key: str, name: SegmentName, path: Path) -> Segment | None:
    try:
        return _describe(root, run_key, name, path, None)
    except FileNotFoundError:
        return None  # recovered into a segment since the listing: the next catch-up has it


def _count(live: dict[Any, dict[str, Any]], writer: str) -> int:
    rows = live.get(writer, {}).get("rows")
    return rows if type(rows) is int else 0
