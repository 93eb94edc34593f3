"""A killed writer's summary, caught up with the rows it stored after it.

A writer records its summary with its heartbeat (about a second apart) and its rows at once
(the journal, store/journal.py): after a kill -9 the summary its state file holds is the
last beat's, up to a beat behind the history's last row. Readers (`StoredRun.summary`: the
Api, the index, the CLI and the UI) fold the rows the dead writer stored after the step its
summary reached into that summary, by the run's metric definitions (store/metric_rules.py):
the last value, min, max, first, and a mean from the sum and count the writer recorded
beside its summary (`summary_means`; a writer of an older version recorded none: its means
stay the beat's). Keys it set with `run.summary[k] = v` (`summary_set`) keep that value.
A key it carried from an earlier job's summary (`summary_carried`) and logged in those rows
is one it logged from then on: the merge (store/summary_merge.py) takes its value as logged.
Only the killed writers of the run's latest generation: a resume starts its summary from
the history (store/history_fold.py), so an earlier generation's is superseded. Never
writes: the state file stays as the writer left it.

Only the rows past that step are decoded: of the writer's sealed segments, the row groups
whose Parquet statistics reach past it (int64 statistics are the exact min and max; a
group without them is read), a few of the last 64k rows; every other writer's sealed
segments are left alone. A writer of this version also records with each heartbeat where
its stored rows stood before its summary was taken (`stored_upto`: segment number and
byte): its segments before that place are not read, and its open segment is read from
that byte on, not from its start (up to 500k rows, decoded and checksummed, for a beat's).
An older state file has no such place: the segments are read as before.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .arrow_owned import read_file
from .history_fold import HistoryFold
from .integrity import SegmentDamaged, check_sha256
from .layout import RunPaths, SegmentName
from .liveness import CRASHED, writer_state
from .metric_rules import MISSING, rule_of
from .segments import list_segments, read_segments
from .summary_merge import carried_keys, generation

#: caught-up summaries this process worked out, by what they are a function of (`_identity`):
#: an Api listing's index describes each run, then its runs' `summary` read it again; the UI
#: lists a run, then opens it. A few KB each, the least recently used dropped.
_known: OrderedDict[Hashable, dict[str, dict[str, Any]]] = OrderedDict()
_KNOWN_MAX = 4096
_lock = threading.Lock()


def caught_up(
    paths: RunPaths, meta: dict[str, Any], writers: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """What changes in the state of each of the run's killed writers of its latest
    generation once caught up with the rows it stored after its summary, by writer id: its
    `summary`, and its `summary_carried` (store/summary_merge.py) less the keys of those
    rows, which it logged (the files are read once for all of them). An
    earlier generation's summary is left as recorded: the resume that followed it started
    from the history, and its writers' summaries come later in the merge. Worked out once
    per process while the files stay as they are (`_identity`)."""
    behind = _behind(writers)
    if not behind:
        return {}
    key = _identity(paths.history, meta, behind)
    with _lock:
        known = _known.get(key) if key is not None else None
        if known is not None:
            _known.move_to_end(key)
    if known is None:
        known = _caught_up(paths, meta, behind)
        if key is not None:
            with _lock:
                _known[key] = known
                while len(_known) > _KNOWN_MAX:
                    _known.popitem(last=False)
    return copy.deepcopy(known)  # (a caller may change what it is handed)


def _identity(history: Path, meta: dict[str, Any], behind: dict[str, Any]) -> Hashable | None:
    """What a caught-up summary is a function of: the dead writers' state files and the
    run's metric definitions (their content), and the history directory's files (names,
    sizes, times of change: a dead writer's files change only by being sealed, renamed or
    removed, by a resume, sync or doctor). None when the directory cannot be listed."""
    try:
        with os.scandir(history) as entries:
            files = sorted((e.name, *_changed(e.stat())) for e in entries)
    except OSError:
        return None
    said = json.dumps(
        [behind, meta.get("metrics"), meta.get("created_at")], sort_keys=True, default=str
    )
    return str(history), hashlib.sha256(said.encode()).digest(), tuple(files)


def _changed(st: os.stat_result) -> tuple[int, int]:
    return st.st_size, st.st_mtime_ns


def _caught_up(
    paths: RunPaths, meta: dict[str, Any], behind: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """`caught_up`'s work, for the writers `_behind` found."""
    starts = {wid: at for wid, w in behind.items() if (at := stored_upto(w)) is not None}
    # every key's summary its last value (no min, max, first or mean defined): of the
    # journals, which hold most of a hot loop's rows after a beat, only each signature's
    # last rows are decoded (store/journal_facts.py `journal_lasts`)
    lasts = all(rule in ("last", "none") for _, rule in _defs(meta))
    steps = {wid: int(w["step"]) for wid, w in behind.items()}
    tails = _rows_after(paths.history, steps, starts, lasts)
    out = {}
    for wid, tail in tails.items():
        w = behind[wid]
        fold = HistoryFold(stored=True)
        for table in tail:
            fold.add(table)
        summary = _folded(w["summary"], fold, meta, w)
        out[wid] = {"summary": summary}
        if carried := carried_keys(w):
            out[wid]["summary_carried"] = sorted(carried - fold.keys.keys())
        summary["_step"] = fold.last_step
        end = max(pc.max(t.column("time")).value for t in tail) / 1e6  # type: ignore[attr-defined]
        summary["_timestamp"] = end
        if (runtime := _runtime(end, meta, w["summary"])) is not None:
            summary["_runtime"] = runtime
    return out


def _runtime(end: float, meta: dict[str, Any], summary: dict[str, Any]) -> float | None:
    """The run's runtime at its last row: from its creation, as a writer works it out; a
    beat's summary holds none before a row was logged, and a resumed run's writer starts
    with none (the earlier generation's stays in the merge). A run.json without its time
    of creation: the beat's runtime moved on, if it had one."""
    created = meta.get("created_at")
    if type(created) in (int, float):
        return end - created
    beat, runtime = summary.get("_timestamp"), summary.get("_runtime")
    if isinstance(beat, int | float) and isinstance(runtime, int | float):
        return runtime + end - beat
    return None


def _behind(writers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The crashed writers of the latest generation that recorded a summary and a step."""

    latest = max((generation(w) for w in writers), default=0)
    return {
        str(w.get("writer")): w
        for w in writers
        if generation(w) == latest
        and isinstance(w.get("summary"), dict)
        and type(w.get("step")) is int
        and writer_state(w) == CRASHED
    }


def stored_upto(w: dict[str, Any]) -> tuple[int, int] | None:
    """(segment number, byte) a writer's stored rows reached before its summary was taken
    (store/writer_close.py `write_state`), if its state file says (older writers' do not,
    and a file with odd figures is read as if it did not)."""
    at = w.get("stored_upto")
    if not isinstance(at, dict):
        return None
    seq, byte = at.get("segment"), at.get("byte")
    if type(seq) is int and type(byte) is int and seq >= 0 and byte >= 0:
        return seq, byte
    return None


def _rows_after(
    history: Path, steps: dict[str, int], starts: dict[str, tuple[int, int]], lasts: bool
) -> dict[str, list[pa.Table]]:
    """The rows of each writer of `steps` after its step: of its sealed segments, the row
    groups whose footer statistics reach past it; its open segments and journal rows (the
    journals cut by every sealed segment's mark, as `read_segments` reads them). A writer
    of `starts` stored its rows up to the step before that place (`stored_upto`): its
    segments before it are not read, its open segment there only from its byte on. `lasts`:
    of the journal rows, only those a summary of last values needs."""
    sealed: set[str] = set()
    out: dict[str, list[pa.Table]] = {}
    for name, path in list_segments(history):
        if name.sealed:
            sealed.add(name.stem)
            step = steps.get(name.writer)
            if name.seq < starts.get(name.writer, (0, 0))[0]:
                continue  # (its mark still cuts the journals: read_segments)
            if step is not None and (rows := _sealed_rows_after(path, name, step)):
                out.setdefault(name.writer, []).append(rows)
    for name, table in read_segments(
        history, read_elsewhere=sealed, start=starts, after_steps=steps, lasts=lasts
    ):
        step = steps.get(name.writer)
        if step is not None:
            rows = table.filter(pc.greater(table.column("step"), step))
            if rows.num_rows:
                out.setdefault(name.writer, []).append(rows)
    return out


def _sealed_rows_after(path: Path, name: SegmentName, step: int) -> pa.Table | None:
    """A sealed segment's rows after `step`, decoding only the row groups that may hold
    them; None when none does, or the file is damaged (warned of, as readers do)."""
    try:
        tops = group_max_steps(pq.read_metadata(path))  # int64 statistics: exact
        groups = [g for g, top in enumerate(tops) if top is None or top > step]
        if not groups:
            return None
        data = read_file(path)
        if name.sha256:
            check_sha256(data, name.sha256, str(path))
        table = pq.ParquetFile(pa.BufferReader(data)).read_row_groups(groups)
    except FileNotFoundError:
        return None
    except (SegmentDamaged, pa.ArrowException, OSError, ValueError) as e:
        warnings.warn(f"flightlog: skipping segment {path}: {e}", stacklevel=2)
        return None
    rows = table.filter(pc.greater(table.column("step"), step))
    return rows if rows.num_rows else None


def _folded(
    summary: dict[str, Any], fold: HistoryFold, meta: dict[str, Any], w: dict[str, Any]
) -> dict[str, Any]:
    """`summary` with each key's figures over the rows of `fold` added by its rule."""
    defs = _defs(meta)
    means = w.get("summary_means") if isinstance(w.get("summary_means"), dict) else {}
    hand = w.get("summary_set")
    kept = {k for k in hand if isinstance(k, str)} if isinstance(hand, list) else set()
    out = dict(summary)
    for key, k in fold.keys.items():
        rule = rule_of(key, defs)
        if key in kept or rule == "none":
            continue
        if rule == "last" and k.last is not None:
            out[key] = k.last[1]
        elif rule == "first" and key not in out and k.first is not None:
            out[key] = k.first[1]
        elif rule in ("min", "max"):
            new, cur = (k.low if rule == "min" else k.high), out.get(key)
            if new is not MISSING and (
                not _number(cur) or (new < cur if rule == "min" else new > cur)
            ):
                out[key] = new
        elif rule == "mean" and k.count:
            sums = means.get(key, (0.0, 0) if key not in out else None)  # none yet, or unknown
            total, count = sums if isinstance(sums, list | tuple) and len(sums) == 2 else (0, -1)
            if _number(total) and type(count) is int and count >= 0:
                out[key] = (total + k.total) / (count + k.count)
    return out


def _defs(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """The run's metric definitions: (name or glob, its summary rule)."""
    return [
        (d["name"], d.get("summary") or "last")
        for d in meta.get("metrics") or []
        if isinstance(d, dict) and isinstance(d.get("name"), str)
    ]


def _number(v: Any) -> bool:
    """What a min, max or mean takes: an int or a float but NaN (not a bool)."""
    return type(v) is int or (type(v) is float and not math.isnan(v))


def group_max_steps(md: pq.FileMetaData) -> list[int | None]:
    """Each row group's highest step by its statistics (None: the group has none); a
    ValueError for a file without a step column (not a history segment)."""
    column = md.schema.to_arrow_schema().get_field_index("step")
    if column < 0:
        raise ValueError("not a flightlog history segment: no step column")
    out: list[int | None] = []
    for g in range(md.num_row_groups):
        stats = md.row_group(g).column(column).statistics
        out.append(int(stats.max) if stats is not None and stats.has_min_max else None)
    return out
