"""Reading runs back from the files: metadata, state, summary and history.

Works on runs that are still being written (open segments are read up to their last complete
batch) and on crashed ones. Never writes: recovery (sealing a dead writer's segments) is the
job of a writer resuming the run or of `flightlog doctor --repair`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .layout import RunPaths
from .liveness import run_state
from .media_ref import MediaRoot
from .segments import read_segments, writer_label
from .summary_edits import SummaryEdits
from .summary_merge import beat, merged_summary
from .wide import MEDIA_COLUMNS as MEDIA_COLUMNS
from .wide import pivot as pivot
from .wide import row_blocks


@dataclass
class StoredRun:
    """A run as it is on disk right now."""

    paths: RunPaths
    meta: dict[str, Any]
    writers: list[dict[str, Any]] = field(default_factory=list)
    #: why run.json could not be read (`load_any` only)
    problem: str | None = None
    #: run.json's text and the writers' as a JSON list, as read (`load_any`; None: not UTF-8)
    json_texts: tuple[str | None, str | None] = field(
        default=(None, None), repr=False, compare=False
    )

    @classmethod
    def load(cls, paths: RunPaths) -> StoredRun | None:
        """The run in `paths`; None when its run.json is missing or unreadable."""
        run = cls.load_any(paths)
        return None if run.problem else run

    @classmethod
    def load_any(cls, paths: RunPaths, writer_names: Iterable[str] | None = None) -> StoredRun:
        """The run in `paths` whatever its run.json holds (listings and sync: a run must not
        vanish because of it); an unreadable one leaves `meta` with just the id and project
        its directory names, and `problem` saying why. `writer_names`: the writers/ files a
        listing just saw (an index's catch-up: it need not list the directory again)."""
        meta, problem, meta_text = _read_meta(paths)
        if meta is None:
            meta = {"id": paths.dir.name, "project": paths.dir.parent.name}
        writers, texts = [], []
        wdir = str(paths.writers)
        try:
            names = _json_names(wdir) if writer_names is None else writer_names
            for name in sorted(names):
                w, text = _read_object(f"{wdir}/{name}")
                if w is not None:
                    writers.append(w)
                    texts.append(text)
        except OSError:
            pass
        joined = None if None in texts else "[" + ",".join(texts) + "]"  # type: ignore[arg-type]
        return cls(paths, meta, writers, problem, (meta_text, joined))

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
        for w in sorted(self.writers, key=beat, reverse=True):
            if w.get("error"):
                return str(w["error"])
        return None

    @property
    def summary(self) -> dict[str, Any]:
        """Every writer's summary merged, the most recently logged to winning, by key (a
        value a resuming writer only carried from the earlier job's gives way to one logged
        since); edits made through the public API afterwards at their time
        (store/summary_merge.py, store/summary_edits.py)."""
        from .summary_tail import caught_up  # a killed writer's: with its last rows

        behind = caught_up(self.paths, self.meta, self.writers)
        states = self.writers
        if behind:
            states = [{**w, **behind.get(str(w.get("writer")), {})} for w in states]
        return merged_summary(states, SummaryEdits.of(self.meta))

    # -- history ----------------------------------------------------------------------------
    def tidy(self, keys: Iterable[str] | None = None, stream: str = "history") -> pa.Table:
        """All rows of a stream ("history", or "system" metrics) in the long form, plus a
        `writer` label column."""
        table = self._long(keys, stream)
        return table.set_column(
            table.schema.get_field_index("key"), "key", table.column("key").cast(pa.string())
        ).set_column(
            table.schema.get_field_index("writer"),
            "writer",
            table.column("writer").cast(pa.string()),
        )

    def _long(self, keys: Iterable[str] | None, stream: str) -> pa.Table:
        """`tidy()` as history() and scan_history() read it: `key` and `writer` may be
        dictionaries (sealed files are read that way, without a string per row), and with
        `keys` only the row groups that may hold them are decoded (store/key_pruning.py).
        A remote run (flightlog/_api_remote.py) gives the server's rows here instead."""
        wanted = None if keys is None else frozenset(keys)
        parts = []
        for name, table in read_segments(self.paths.stream(stream), wanted, dictionary_keys=True):
            label = writer_label(name, table)
            table = table.replace_schema_metadata(None)
            key = table.column("key")
            if not pa.types.is_dictionary(key.type):  # open segments, journals
                key = pc.dictionary_encode(key)
            table = table.set_column(table.schema.get_field_index("key"), "key", key)
            # the label's code, 0, for every row: zeroed pages from the OS, not a filled array
            # (a run of one writer never reads them: store/wide.py looks at the dictionary)
            zeros = pa.array(np.zeros(len(table), np.int32))
            writer = pa.DictionaryArray.from_arrays(zeros, pa.array([label]))
            parts.append(table.append_column("writer", writer))
        if not parts:
            return _EMPTY_TIDY
        return pa.concat_tables(parts, promote_options="permissive")

    def history(
        self, keys: Iterable[str] | None = None, stream: str = "history", mixed: bool = False
    ) -> pa.Table:
        """One row per (writer, step): `_step _timestamp _runtime _writer` + a column per key.

        `stream="system"` gives the system metrics (`_step` is then the sample's number);
        `mixed`: a key of several kinds is a union of its values as logged, not their text
        (store/logged_union.py)."""
        wanted = None if keys is None else list(keys)
        return pivot(self._long(wanted, stream), _start(self.meta), wanted, mixed)

    def scan_history(
        self, keys: Iterable[str] | None = None, stream: str = "history"
    ) -> Iterator[dict[str, Any]]:
        """One dict per logged row, in step order, values exactly as they were logged
        (store/wide.py builds them a block of rows at a time, column-wise). Lazy: the
        files are read when the first row is asked for."""
        return chain.from_iterable(self._row_blocks(keys, stream))

    def _row_blocks(
        self, keys: Iterable[str] | None, stream: str, **only: Any
    ) -> Iterator[Iterable[dict[str, Any]]]:
        """`scan_history`'s rows a block at a time; `only`: row_blocks' row filters."""
        wanted = None if keys is None else list(keys)
        tidy = self._long(wanted, stream)
        yield from row_blocks(tidy, _start(self.meta), self._media_root(), keys=wanted, **only)

    def _media_root(self) -> MediaRoot:
        """What the media references read from the run are bound to (to load them): its
        directory; a server's blobs for a run read from a server (flightlog/_api_remote.py)."""
        return self.paths.dir


_EMPTY_TIDY = pa.table(
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


def text_list(v: Any) -> list[str]:
    """A list-of-strings field of a run.json that may hold anything (hand-edited, old): one
    string is one item (not its letters), other items are their JSON text."""
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list):
        return []
    return [x if isinstance(x, str) else json.dumps(x, default=str) for x in v]


def _read_meta(paths: RunPaths) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """(run.json's object, None, its text) or (None, why it cannot be read, None)."""
    try:
        meta, text = _read_object(paths.meta, strict=True)
    except FileNotFoundError:
        return None, f"{paths.meta} is missing", None
    except (OSError, ValueError) as e:
        return None, f"{paths.meta} is unreadable: {e}", None
    if not isinstance(meta, dict):
        kind = type(meta).__name__
        return None, f"{paths.meta} is unreadable: a JSON {kind}, not an object", None
    return meta, None, text


def _read_object(path: str | Path, strict: bool = False) -> tuple[Any, str | None]:
    """The JSON in `path` and its text (None unless plain UTF-8); non-`strict`: (None,
    None) when it is missing, unreadable or not an object (a writer's state file)."""
    try:
        raw = _read_bytes(path)
        data = json.loads(raw)
    except (OSError, ValueError):
        if strict:
            raise
        return None, None
    if not strict and not isinstance(data, dict):
        return None, None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return data, None
    return data, None if text.startswith("\ufeff") else text  # a BOM json.loads(str) refuses


def _read_bytes(path: str | Path) -> bytes:
    """The file's bytes, by plain reads (a listing reads two small files a run: a buffered
    file object costs twice the system calls)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        parts = [os.read(fd, 1 << 16)]
        while parts[-1]:
            parts.append(os.read(fd, 1 << 20))
    finally:
        os.close(fd)
    return b"".join(parts)


def _json_names(directory: str) -> list[str]:
    """The `*.json` names in `directory` (none if it is missing)."""
    try:
        with os.scandir(directory) as it:
            return [e.name for e in it if e.name.endswith(".json")]
    except FileNotFoundError:
        return []


def _start(meta: dict[str, Any]) -> float:
    """The run's start time, for `_runtime` (0 when run.json lacks a usable one)."""
    t = meta.get("created_at")
    return float(t) if isinstance(t, int | float) else 0.0
