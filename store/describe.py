"""Describing one run's files as index rows: its metadata, config and summary, and (through
store/describe_segments.py) its segments.

A run is described in two tiers (store/index_tables.py): `describe_runs(segments=False)`
reads only its run.json and state files and leaves it `partial`; `describe_history_of`
adds its segments later. run.json may hold anything: written by an older version, edited by
hand, uploaded by someone else, or unreadable. Every field is coerced to its column's type (a
problem noted as a warning, so the run is listed with `!`); a run is never left out, and
never breaks the listing of the others.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from .describe_segments import (
    History,
    Row,
    describe_history,
    number_value,
    text_value,
)
from .fan_out import Pace, fan_out_if_slow
from .index_tables import Rows
from .layout import RunPaths, parse_segment_name, split_run_key
from .reader import StoredRun, text_list
from .scan import Files
from .syncmark import SYNC_FILE, read_mark, sync_status

__all__ = ["describe_history_of", "describe_runs", "stub_row"]


# -- run metadata --------------------------------------------------------------------------
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
    return (run_key, key, num, text, _json(v))


def _json(v: Any) -> str:
    """json.dumps(v, default=str), without its machinery for the plain numbers most config
    and summary values are (a cold index build writes ~10 of them a run)."""
    t = type(v)
    if t is float and math.isfinite(v):
        return float.__repr__(v)  # what json.dumps writes for a finite float
    if t is int:
        return int.__repr__(v)
    return json.dumps(v, default=str)


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
        return text_value(v)

    def number(self, field: str) -> float | None:
        v = self.meta.get(field)
        if v is not None and number_value(v) is None:
            self._odd(field, v, "ignored")
        return number_value(v)

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


def describe_runs(
    root: Path,
    run_keys: Sequence[str],
    listed: dict[str, Files],
    rows: Rows,
    segments: bool,
    done: Callable[[int], None] | None = None,
    pace: Pace | None = None,
) -> int:
    """Append the rows of each of `run_keys` (`listed`: their files) to `rows`, in order;
    returns how many segments they have (0, and partial runs, when `segments` is False:
    their run.json and state files only). `done(i)` after the i-th run (it may raise to
    interrupt a build). Whatever its files hold, a run gets its `runs` row: metadata that
    does not fit is coerced and noted, and if describing it fails anyway, a bare row says
    why.

    A first tier's many runs (a first build) are read several at once when the store's
    reads wait for the disk, or the network (store/fan_out.py; `pace`: what the listing
    found, store/scan.py); a second tier's Parquet reads stay one at a time (each segment's
    chart pyramid is built as it is read)."""
    tables = tuple(rows)

    def one(run_key: str) -> tuple[int, Rows]:
        return _described(root, run_key, listed[run_key], tables, segments)

    total = 0
    # (a second tier's reads one at a time: a pace that found the store quick)
    reads = fan_out_if_slow(one, run_keys, Pace(slow=False) if segments else pace)
    with closing(reads) as described:
        for i, (n, out) in enumerate(described, 1):
            for t, values in out.items():
                rows[t].extend(values)
            total += n
            if done:
                done(i)
    return total


def _described(
    root: Path, run_key: str, files: Files, tables: Sequence[str], segments: bool
) -> tuple[int, Rows]:
    """One run's segments and rows, in rows of its own (what a thread can make)."""
    paths = RunPaths(Path(root, "runs", run_key))  # RunPaths.of_key's, at a tenth of the cost
    base = f"runs/{run_key}/writers/"
    writers = [p[len(base) :] for p in files if p.startswith(base) and p.endswith(".json")]
    stored = StoredRun.load_any(paths, writers)
    out: Rows = {t: [] for t in tables}
    if stored.problem and not paths.dir.is_dir():
        return 0, out  # the run was deleted since the listing
    try:
        history = describe_history(root, run_key, stored, out) if segments else None
        _describe_run(run_key, stored, files, out, history)
        n = history.segments if history else 0
    except Exception as e:  # one run's oddity must not hide the others
        out = {t: [] for t in tables}
        out["runs"].append(_bare_run_row(run_key, paths, f"cannot index this run: {e!r}"))
        # (its run.json left out: the next description rewrites its config, store/catch_up.py)
        meta = f"runs/{run_key}/run.json"
        out["files"].extend((run_key, p, s, t) for p, (s, t) in files.items() if p != meta)
        n = 0
    return n, out


def describe_history_of(
    root: Path, run_key: str, warnings: str | None, rows: Rows
) -> tuple[int, int, float | None, str | None] | None:
    """The second tier of a partial run whose first left `warnings`: its segment rows
    appended to `rows`, and its (steps, values, last_time, warnings); None if it is gone."""
    stored = StoredRun.load_any(RunPaths.of_key(root, run_key))
    if stored.problem and not stored.paths.dir.is_dir():
        return None
    h = describe_history(root, run_key, stored, rows)
    notes = "\n".join(([warnings] if warnings else []) + h.warnings) or None
    return h.steps(stored), h.values, h.last_time, notes


def _bare_run_row(run_key: str, paths: RunPaths, warning: str) -> Row:
    """A `runs` row from the directory alone: listed, marked, nothing guessed."""
    return _path_row(run_key, str(paths.dir), None, warning, stub=False)


def stub_row(run_key: str, run_dir: str, created_at: float) -> Row:
    """A stub's `runs` row (store/index_tables.py): its key and its start, from its
    project's ledger (store/run_ledger.py); described when a query needs more."""
    return _path_row(run_key, run_dir, created_at, None, stub=True)


def _path_row(
    run_key: str, run_dir: str, created_at: float | None, warning: str | None, stub: bool
) -> Row:
    entity, project, run_id = split_run_key(run_key)
    ids = (run_key, project, run_id, run_id)  # run_key, project, id, name
    nothing = (entity, None, None)  # entity, group, job_type
    counts = (created_at, None, None, 0, 0) if not stub else (created_at, *(None,) * 4)
    more = (None,) * 8  # host ... git_dirty, error
    return (
        *ids,
        *nothing,
        [],
        None,
        None,
        *counts,  # created_at, ended_at, last_time, steps, values
        *more,
        run_dir,
        "[]",
        "{}",
        warning,
        [],
        None,
        stub,  # partial: a stub has all to describe, a bare row nothing more
        stub,
    )


def _describe_run(
    run_key: str,
    stored: StoredRun,
    files: dict[str, tuple[int, int]],
    rows: Rows,
    history: History | None,
) -> None:
    """The run's `runs`, `config`, `summary` and `files` rows; `history` None: partial."""
    entity, project, run_id = split_run_key(run_key)
    warnings = [stored.problem] if stored.problem else []
    h = history or History()
    m = _Meta(stored.meta)
    git = _Meta(m.mapping("git"))
    ended = [e for w in stored.writers if (e := number_value(w.get("finished_at")))]
    command = m.meta.get("command")
    metrics = m.meta.get("metrics")
    defined = [
        text_value(d.get("name")) or ""
        for d in (metrics if isinstance(metrics, list) else [])
        if isinstance(d, dict) and d.get("summary") not in (None, "last")
    ]
    config = m.mapping("config")
    meta_text, writers_text = stored.json_texts
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
        h.last_time if history else None,
        h.steps(stored) if history else None,
        h.values if history else None,
        m.text("host"),
        m.text("user"),
        " ".join(map(str, command)) if isinstance(command, list) else text_value(command),
        git.text("commit"),
        git.text("branch"),
        git.text("remote"),
        git.meta.get("dirty") if isinstance(git.meta.get("dirty"), bool) else None,
        text_value(stored.error),
        str(stored.paths.dir),
        writers_text or json.dumps(stored.writers, default=str),
        meta_text or json.dumps(stored.meta, default=str),
        "\n".join(warnings + m.problems + git.problems + h.warnings) or None,
        defined,
        sync_status(stored.meta, _mark(run_key, stored, files), _sealed(files)),
        history is None,
        False,  # stub
    )
    rows["runs"].append(run_row)
    rows["config"] += [_value_row(run_key, k, v) for k, v in _flatten(config)]
    rows["summary"] += [_value_row(run_key, k, v) for k, v in stored.summary.items()]
    rows["files"] += [(run_key, p, s, t) for p, (s, t) in files.items()]


def _sealed(files: dict[str, tuple[int, int]]) -> Iterator[str]:
    """The sealed segments the listing saw (what a sync mark confirms; looked at only for a
    run with a complete one). Of two seals of one segment (store/segment_files.py `_better`),
    the larger file, the one readers read: a run whose server holds only the shorter is not
    synced."""
    by_stem: dict[str, tuple[int, str]] = {}
    for p, (size, _) in files.items():
        name = p.rpartition("/")[2]
        if p.endswith(".parquet") and "/history/" in p:
            seg = parse_segment_name(name)
            if seg is not None and seg.sealed and size > by_stem.get(seg.stem, (-1, ""))[0]:
                by_stem[seg.stem] = (size, name)
    return (name for _, name in by_stem.values())


def _mark(run_key: str, stored: StoredRun, files: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """The run's sync mark, read only when the listing saw one (most runs never synced: a
    failed open a run is a tenth of a first build's work)."""
    synced = f"runs/{run_key}/{SYNC_FILE}" in files
    return read_mark(stored.paths) if synced else {}


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
