"""Reading runs back from the files: metadata, state, summary and history.

Works on runs that are still being written (open segments are read up to their last complete
batch) and on crashed ones. Never writes: recovery (sealing a dead writer's segments) is the
job of a writer resuming the run or of `flightlog doctor --repair`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .atomic import read_json
from .layout import RunPaths
from .liveness import run_state
from .schema import (
    BOOL,
    FLOAT,
    INT,
    MEDIA,
    NONE,
    WRITER_ID_KEY,
    WRITER_LABEL_KEY,
    decode_value,
)
from .segments import read_segments

#: wide-history schema metadata: the JSON list of columns holding media references
MEDIA_COLUMNS = b"flightlog.media_columns"


@dataclass
class StoredRun:
    """A run as it is on disk right now."""

    paths: RunPaths
    meta: dict[str, Any]
    writers: list[dict[str, Any]] = field(default_factory=list)
    #: why run.json could not be read (`load_any` only)
    problem: str | None = None

    @classmethod
    def load(cls, paths: RunPaths) -> StoredRun | None:
        """The run in `paths`; None when its run.json is missing or unreadable."""
        run = cls.load_any(paths)
        return None if run.problem else run

    @classmethod
    def load_any(cls, paths: RunPaths) -> StoredRun:
        """The run in `paths` whatever its run.json holds (listings and sync: a run must not
        vanish because of it); an unreadable one leaves `meta` with just the id and project
        its directory names, and `problem` saying why."""
        meta, problem = _read_meta(paths)
        if meta is None:
            meta = {"id": paths.dir.name, "project": paths.dir.parent.name}
        writers = []
        try:
            for p in sorted(paths.writers.glob("*.json")):
                w = read_json(p)
                if w is not None:
                    writers.append(w)
        except OSError:
            pass
        return cls(paths, meta, writers, problem)

    # -- metadata --------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # run.json fields as attributes: id, name, project, entity, group, job_type, notes...
        meta = self.__dict__.get("meta", {})
        if name in meta:
            return meta[name]
        raise AttributeError(name)

    @property
    def dir(self) -> Path:
        return self.paths.dir

    @property
    def path(self) -> str:
        """ "project/run_id", what `Api.run()` takes."""
        return f"{self.meta.get('project')}/{self.meta.get('id')}"

    @property
    def tags(self) -> list[str]:
        return text_list(self.meta.get("tags"))

    @property
    def config(self) -> dict[str, Any]:
        config = self.meta.get("config")
        return dict(config) if isinstance(config, dict) else {}

    @property
    def git(self) -> dict[str, Any]:
        git = self.meta.get("git")
        return dict(git) if isinstance(git, dict) else {}

    @property
    def state(self) -> str:
        return run_state(self.writers)

    @property
    def last_step(self) -> int:
        """The highest committed `_step` any writer reported (-1 for none)."""
        return max((s for w in self.writers if type(s := w.get("step")) is int), default=-1)

    @property
    def error(self) -> str | None:
        """The traceback or reason of a failed writer of the latest generation."""
        for w in sorted(self.writers, key=_beat, reverse=True):
            if w.get("error"):
                return str(w["error"])
        return None

    @property
    def summary(self) -> dict[str, Any]:
        """Every writer's summary merged, the most recently updated winning."""
        merged: dict[str, Any] = {}
        for w in sorted(self.writers, key=_beat):
            summary = w.get("summary")
            if isinstance(summary, dict):
                merged.update(summary)
        return merged

    # -- history ---------------------------------------------------------------------------
    def tidy(self, keys: Iterable[str] | None = None, stream: str = "history") -> pa.Table:
        """All rows of a stream ("history", or "system" metrics) in the long form, plus a
        `writer` label column."""
        parts = []
        for name, table in read_segments(self.paths.stream(stream)):
            md = table.schema.metadata or {}
            label = md.get(WRITER_LABEL_KEY) or md.get(WRITER_ID_KEY) or name.writer.encode()
            table = table.replace_schema_metadata(None)
            parts.append(table.append_column("writer", pa.repeat(label.decode(), len(table))))
        if not parts:
            return pa.table(
                {
                    "step": pa.array([], pa.int64()),
                    "time": pa.array([], pa.timestamp("us", tz="UTC")),
                    "key": pa.array([], pa.string()),
                    "value": pa.array([], pa.float64()),
                    "kind": pa.array([], pa.int8()),
                    "text": pa.array([], pa.string()),
                    "writer": pa.array([], pa.string()),
                }
            )
        table = pa.concat_tables(parts)
        if keys is not None:
            table = table.filter(pc.is_in(table.column("key"), pa.array(list(keys), pa.string())))
        return table

    def history(self, keys: Iterable[str] | None = None, stream: str = "history") -> pa.Table:
        """One row per (writer, step): `_step _timestamp _runtime _writer` + a column per key.

        `stream="system"` gives the system metrics (`_step` is then the sample's number)."""
        return pivot(self.tidy(keys, stream), _start(self.meta))

    def scan_history(
        self, keys: Iterable[str] | None = None, stream: str = "history"
    ) -> Iterator[dict[str, Any]]:
        """One dict per logged row, in step order, values exactly as they were logged.

        Values are decoded column-wise (floats, the common case, straight from Arrow; other
        kinds one by one) and each row is built by one `dict.update` over its slice: ~1 µs
        per value instead of a Python decode call per value."""
        tidy = self.tidy(keys, stream)
        if tidy.num_rows == 0:
            return
        rows, _ = _row_index(tidy)
        order = None if _is_sorted(rows) else pa.array(np.argsort(rows, kind="stable"))

        def col(name: str) -> pa.ChunkedArray:
            c = tidy.column(name)
            return c if order is None else c.take(order)

        rows_sorted = rows if order is None else rows[order.to_numpy()]
        starts = np.concatenate(([0], np.flatnonzero(np.diff(rows_sorted)) + 1))
        ends = np.append(starts[1:], len(rows_sorted)).tolist()
        first = pa.array(starts)
        steps = col("step").take(first).to_pylist()
        times = (col("time").take(first).cast(pa.int64()).to_numpy() / 1e6).tolist()
        writers = col("writer").take(first).to_pylist()
        keys_ = col("key").to_pylist()
        values = _decoded(col("value"), col("kind"), col("text"), self.paths.dir)
        start = _start(self.meta)
        for a, b, step, t, w in zip(starts.tolist(), ends, steps, times, writers, strict=True):
            row = {"_step": step, "_timestamp": t, "_runtime": t - start, "_writer": w}
            row.update(zip(keys_[a:b], values[a:b], strict=True))
            yield row


def _decoded(
    value: pa.ChunkedArray, kind: pa.ChunkedArray, text: pa.ChunkedArray, run_dir: Path
) -> list[Any]:
    """Every tidy value as it was logged: floats as read, the other kinds decoded (media
    references resolved against `run_dir`)."""
    out = value.to_pylist()
    kinds = kind.to_numpy()
    others = np.flatnonzero(kinds != FLOAT)
    if len(others):
        texts = text.take(pa.array(others)).to_pylist()
        for i, t in zip(others.tolist(), texts, strict=True):
            out[i] = decode_value(out[i], int(kinds[i]), t, run_dir)
    return out


def _is_sorted(a: np.ndarray) -> bool:
    return bool(len(a) < 2 or (a[1:] >= a[:-1]).all())


def text_list(v: Any) -> list[str]:
    """A list-of-strings field of a run.json that may hold anything (hand-edited, old): one
    string is one item (not its letters), other items are their JSON text."""
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list):
        return []
    return [x if isinstance(x, str) else json.dumps(x, default=str) for x in v]


def _beat(writer: dict[str, Any]) -> float:
    beat = writer.get("heartbeat_at")
    return float(beat) if isinstance(beat, int | float) else 0.0


def _read_meta(paths: RunPaths) -> tuple[dict[str, Any] | None, str | None]:
    """(run.json's object, None) or (None, why it cannot be read)."""
    try:
        with open(paths.meta, "rb") as f:
            meta = json.load(f)
    except FileNotFoundError:
        return None, f"{paths.meta} is missing"
    except (OSError, ValueError) as e:
        return None, f"{paths.meta} is unreadable: {e}"
    if not isinstance(meta, dict):
        return None, f"{paths.meta} is unreadable: a JSON {type(meta).__name__}, not an object"
    return meta, None


def _row_index(tidy: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """For each tidy row, the index of its logical row (sorted by step, then writer)."""
    steps = tidy.column("step").to_numpy()
    wcodes = pc.dictionary_encode(tidy.column("writer")).combine_chunks()
    nw = max(len(wcodes.dictionary), 1)
    row_key = steps * nw + wcodes.indices.to_numpy(zero_copy_only=False)
    if _is_sorted(row_key):  # one writer, segments in order: the usual run, in O(n)
        new_row = np.empty(len(row_key), bool)
        new_row[:1] = True
        np.not_equal(row_key[1:], row_key[:-1], out=new_row[1:])
        return np.cumsum(new_row) - 1, row_key[new_row]
    uniq, inverse = np.unique(row_key, return_inverse=True)
    return inverse, uniq


def pivot(tidy: pa.Table, created_at: float) -> pa.Table:
    """Long history -> wide table (one column per key, typed by what was logged)."""
    if tidy.num_rows == 0:
        return pa.table(
            {
                "_step": pa.array([], pa.int64()),
                "_timestamp": pa.array([], pa.float64()),
                "_runtime": pa.array([], pa.float64()),
                "_writer": pa.array([], pa.string()),
            }
        )
    rows, uniq = _row_index(tidy)
    n = len(uniq)
    steps = np.empty(n, np.int64)
    steps[rows] = tidy.column("step").to_numpy()
    ts = np.empty(n, np.float64)
    ts[rows] = tidy.column("time").cast(pa.int64()).to_numpy() / 1e6
    writer_col = tidy.column("writer").combine_chunks()
    writer_take = np.empty(n, np.int64)
    writer_take[rows] = np.arange(len(rows))
    out: dict[str, pa.Array] = {
        "_step": pa.array(steps),
        "_timestamp": pa.array(ts),
        "_runtime": pa.array(ts - created_at),
        "_writer": writer_col.take(pa.array(writer_take)),
    }
    kcodes = pc.dictionary_encode(tidy.column("key")).combine_chunks()
    codes = kcodes.indices.to_numpy(zero_copy_only=False)
    names = kcodes.dictionary.to_pylist()
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    value = tidy.column("value").to_numpy(zero_copy_only=False)
    kind = tidy.column("kind").to_numpy()
    text = tidy.column("text")
    media = []
    for j in sorted(range(len(names)), key=lambda j: names[j]):
        idx = order[bounds[j] : bounds[j + 1]]
        out[names[j]] = _key_column(n, rows[idx], value[idx], kind[idx], text, idx)
        if (kind[idx] == MEDIA).any():
            media.append(names[j])
    # media columns hold each reference's JSON; named here so readers can rebuild MediaRefs
    return pa.table(out).replace_schema_metadata({MEDIA_COLUMNS: json.dumps(media).encode()})


def _key_column(
    n: int, rows: np.ndarray, value: np.ndarray, kind: np.ndarray, text: pa.ChunkedArray, idx: Any
) -> pa.Array:
    """One key's wide column, typed by the kinds logged under that key."""
    kinds = set(np.unique(kind).tolist()) - {NONE}
    present = kind != NONE
    valid = np.zeros(n, bool)
    valid[rows[present]] = True
    if (
        kinds
        and kinds <= {FLOAT, INT, BOOL}
        and text.take(pa.array(idx)).null_count == len(idx)  # no int beyond 2**53
    ):
        col = np.zeros(n, np.float64)
        col[rows[present]] = value[present]
        if kinds == {INT}:
            return pa.array(col.astype(np.int64), mask=~valid)
        if kinds == {BOOL}:
            return pa.array(col.astype(bool), mask=~valid)
        return pa.array(col, mask=~valid)
    # strings, huge ints, or a mix with strings: a string column of the logged values
    texts = text.take(pa.array(idx)).to_pylist()
    cells: list[str | None] = [None] * n
    for r, v, k, t in zip(rows.tolist(), value.tolist(), kind.tolist(), texts, strict=True):
        if k != NONE:
            cells[r] = str(decode_value(v, k, t))
    return pa.array(cells, pa.string())


def _start(meta: dict[str, Any]) -> float:
    """The run's start time, for `_runtime` (0 when run.json lacks a usable one)."""
    t = meta.get("created_at")
    return float(t) if isinstance(t, int | float) else 0.0
