"""Describing a run's history files as index rows: its segments, their metric keys, and
what they say of the run (its last step, its values, its last row's time).

The second tier of a run's description (store/index_tables.py): the first reads only its
run.json and state files (store/describe.py). A segment that disappears between listing and
reading (sealed into its Parquet twin, removed with its run) is described from its twin, or
left out; a segment that fails its checksum is described as damaged (the queries skip it)
with a warning naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .arrow_owned import read_file
from .index_tables import Rows
from .integrity import SegmentDamaged, check_sha256
from .journal import SUFFIX as JOURNAL_SUFFIX
from .journal import list_journals
from .journal_facts import read_journal_facts
from .layout import SegmentName, parse_segment_name
from .liveness import RUNNING, writer_state
from .pyramid import build_when_described
from .reader import StoredRun
from .schema import WRITER_LABEL_KEY
from .segments import list_segments, read_segment_checked, sealed_twin

Row = tuple[Any, ...]


def text_value(v: Any) -> str | None:
    """A text column's value: strings as they are, anything else as its JSON text."""
    if v is None or isinstance(v, str):
        return v
    return json.dumps(v, default=str)


def number_value(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


@dataclass
class History:
    """What a run's segments say of it (the `runs` columns the second tier fills)."""

    segments: int = 0
    step_max: int = -1
    last_time: float | None = None
    values: int = 0
    warnings: list[str] = field(default_factory=list)

    def steps(self, stored: StoredRun) -> int:
        """The run's steps: past the last its segments or its writers' state saw."""
        return max(self.step_max, stored.last_step) + 1


def describe_history(root: Path, run_key: str, stored: StoredRun, rows: Rows) -> History:
    """Append the run's `segments` and `segment_keys` rows to `rows`; what they say of it."""
    live = {w.get("writer"): w for w in stored.writers if writer_state(w) == RUNNING}
    out = History()
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
        out.segments += 1
        rows["segments"].append(seg.row)
        rows["segment_keys"].extend((seg.row[1], k) for k in seg.keys)
        if seg.warning:
            out.warnings.append(seg.warning)
        out.values += seg.values if seg.values is not None else _count(live, name.writer)
        if seg.step_max is not None:
            out.step_max = max(out.step_max, seg.step_max)
        if seg.time_max is not None:
            t = seg.time_max
            out.last_time = t if out.last_time is None else max(out.last_time, t)
    return out


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
        row = (*base, text_value(live.get("label")) or "", name.seq, False, None, None)
        row += (step if type(step) is int and step >= 0 else None, None)
        row += (number_value(live.get("heartbeat_at")), *tail, None)
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
    if path.suffix == JOURNAL_SUFFIX:  # counted from its row records, not decoded
        facts, note = read_journal_facts(path)
        return facts.label, facts.values, facts.steps, facts.times, list(facts.keys), note
    if not name.sealed:
        table, note = read_segment_checked(path)
        label = ((table.schema.metadata or {}).get(WRITER_LABEL_KEY) or b"").decode()
        keys = pc.unique(table.column("key")).to_pylist()
        return label, table.num_rows, *_ranges(table), keys, note
    data = read_file(path)  # never Python bytes: Arrow's threads drop it (store/arrow_owned.py)
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
