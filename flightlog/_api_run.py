"""The runs `flightlog.Api` returns: a stored run with the members of wandb's public-API Run
(`history(keys=, samples=, x_axis=, pandas=)`, `scan_history`, `summary_metrics`, `files()`,
`url`), so analysis notebooks written for wandb read a flightlog store.

`history()` returns a pyarrow Table unless `pandas=True` (pandas is optional here; wandb's
default is a DataFrame, flightlog's has always been Arrow, which `.to_pandas()` converts). A
key of several kinds keeps its values as logged, as in wandb's DataFrame: a union column in
the Table (store/logged_union.py), an object column in the DataFrame.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from flightlog.store import StoredRun
from flightlog.store.atomic import is_temp
from flightlog.store.logged_union import MEDIA_CHILD
from flightlog.store.media_ref import MediaRef, MediaRoot, bound_at
from flightlog.store.reader import MEDIA_COLUMNS

from ._api_edits import ApiRunEdits
from ._api_files import ApiFile, RunFile, select, upload
from ._api_run_facts import ApiRunFacts
from ._errors import ArgumentError, UnsupportedError, UsageError

#: wandb's stream names -> flightlog's
STREAMS = {"default": "history", "history": "history", "system": "system", "events": "system"}


def _stream(stream: str) -> str:
    if stream not in STREAMS:
        raise ArgumentError(
            f"unknown stream {stream!r}: use 'history' (wandb's 'default') or 'system'"
        )
    return STREAMS[stream]


class ApiRun(ApiRunFacts, ApiRunEdits, StoredRun):
    """A stored run read through `flightlog.Api`, shaped like wandb's `Api().run()`."""

    @property
    def path(self) -> list[str]:  # type: ignore[override]
        """wandb's `[entity, project, run_id]`: report scripts unpack it or hand
        `"/".join(run.path)` back to `Api.run()` (entity "" for a run logged with none)."""
        return [self.meta.get("entity") or "", str(self.meta.get("project")), self.id]

    @property
    def shown_path(self) -> str:
        """The run as messages name it, "project/run_id"."""
        return StoredRun.path.fget(self)  # type: ignore[attr-defined]

    @property
    def summary_metrics(self) -> dict[str, Any]:
        return self.summary

    @property
    def display_name(self) -> str:
        """wandb's name for the run's name (`run.name` is the same)."""
        return str(self.name)

    @property
    def lastHistoryStep(self) -> int:  # wandb's name
        """The last step logged (-1 for none), as wandb's Run has it."""
        return self.last_step

    @property
    def created_at(self) -> str | None:
        """When the run started, as wandb's Run gives it: an ISO 8601 string in UTC to the
        second ("2026-11-27T06:30:00"), so `datetime.fromisoformat` and pandas read it (an
        epoch float, as run.json holds it, reads as 1970 in `pd.to_datetime`). None when
        run.json lacks it."""
        t = self.meta.get("created_at")
        if not isinstance(t, int | float) or isinstance(t, bool):
            return None
        return datetime.fromtimestamp(t, UTC).replace(tzinfo=None).isoformat(timespec="seconds")

    @property
    def url(self) -> str:
        """Where the run is: its directory in the store (a local store has no web page)."""
        return str(self.dir)

    def files(
        self, names: Sequence[str] | None = None, pattern: str | None = None, per_page: int = 50
    ) -> list[ApiFile]:
        """The files kept with the run (`run.save`, output.log, requirements.txt...), named
        as wandb names them, then its logged media by the `path` their summary and history
        values hold (`media/...`), so `run.file(row["img"]["path"]).download()` fetches an
        image or table back as with wandb. `names` or `pattern` (SQL LIKE: "%.json") choose
        some, as in wandb; `per_page` is accepted for wandb's scripts (the list comes whole)."""
        kept = self.paths.files
        listed = [*_listed(kept, kept), *_listed(self.paths.dir / "media", self.paths.dir)]
        return select(listed, names, pattern)

    def upload_file(self, path: str, root: str = ".") -> ApiFile:
        """Keep a file with the run (wandb's `Run.upload_file`), named by its path from
        `root`: listed by `files()` and shipped by the next sync."""
        return upload(self.paths.files, path, root)

    def logged_artifacts(self) -> list[Any]:
        """The artifact versions this run logged, in the order it logged them (wandb's
        `Run.logged_artifacts()`): Artifacts whose `download()` copies their files out."""
        return self._artifacts("artifacts")

    def used_artifacts(self) -> list[Any]:
        """The artifact versions this run used (`use_artifact`), in the order it used them."""
        return self._artifacts("used_artifacts")

    def _artifacts(self, key: str) -> list[Any]:
        from .artifacts import Artifact
        from .artifacts.registry import Registry

        registry = Registry(self.paths.root)
        return [
            Artifact._from_version(
                registry, registry.resolve(str(e["project"]), str(e["name"]), str(e["version"]))
            )
            for e in artifact_entries(self.meta, key)
        ]

    def delete(self, delete_artifacts: bool = False) -> None:
        """Remove the run from its store (wandb's `Run.delete()`): refused while a writer
        of it is alive; a crashed run goes as it is (flightlog/_api_delete.py).
        `delete_artifacts=True` is refused for a run that logged artifact versions: other
        runs may use them (nothing is deleted then)."""
        if delete_artifacts and self.meta.get("artifacts"):
            raise UnsupportedError(
                f"run {self.shown_path} logged artifact versions, which flightlog keeps (other "
                "runs may use them): nothing was deleted; call delete() without "
                "delete_artifacts=True to delete the run alone"
            )
        from ._api_delete import delete_run

        delete_run(self.paths, self.shown_path)

    def file(self, name: str) -> ApiFile:
        for f in self.files():
            if f.name == name:
                return f
        raise FileNotFoundError(f"run {self.shown_path} keeps no file {name!r}")

    def history(  # type: ignore[override]
        self,
        keys: Iterable[str] | None = None,
        stream: str = "default",
        *,
        samples: int | None = None,
        x_axis: str = "_step",
        pandas: bool = False,
    ) -> Any:
        """The history, wide: with `keys`, those columns, `x_axis`'s and the `_` ones in the
        rows that hold any of them; `samples` rows at most, evenly spaced, first and last
        kept."""
        self._present()
        if isinstance(keys, int):  # wandb's history(500): its first argument is samples
            raise ArgumentError(
                f"history()'s first argument is keys (wandb's is samples): pass "
                f"samples={keys} by name"
            )
        asked = None if keys is None else list(keys)
        keys = asked
        if asked and x_axis not in asked and not x_axis.startswith("_"):
            keys = [
                *asked,
                x_axis,
            ]  # wandb reads it with the keys: history(["acc"], x_axis="epoch")
        table = super().history(keys, _stream(stream), mixed=True)
        if x_axis not in table.column_names:
            raise UsageError(f"x_axis {x_axis!r} is not a logged key of run {self.shown_path}")
        if keys:
            for k in keys:
                if k not in table.column_names:
                    table = table.append_column(k, pa.nulls(len(table)))
            table = table.select([c for c in table.column_names if c.startswith("_") or c in keys])
            if keys is not asked:  # the rows holding the keys asked for, not the x-axis alone
                held = [pc.is_valid(table.column(k)) for k in asked]
                table = table.filter(functools.reduce(pc.or_, held))
        if samples is not None and len(table) > samples:
            if samples < 1:
                raise UsageError(f"samples must be at least 1, got {samples}")
            idx = sorted(
                {round(i * (len(table) - 1) / max(samples - 1, 1)) for i in range(samples)}
            )
            table = table.take(pa.array(idx))
        if not pandas:
            return table
        return _frame(table, self._media_root())

    def scan_history(  # type: ignore[override]
        self,
        keys: Iterable[str] | None = None,
        stream: str = "default",
        *,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every row, in step order, values as logged; `min_step <= _step < max_step`; with
        `keys`, the rows that hold every one of them."""
        self._present()
        keys = None if keys is None else list(keys)
        blocks = self._row_blocks(
            keys, _stream(stream), min_step=min_step, max_step=max_step, every_key=keys or ()
        )
        return chain.from_iterable(blocks)


def _listed(top: Path, base: Path) -> list[RunFile]:
    """The files below `top` (none when it is missing), named by their path from `base`."""
    return [
        RunFile(str(p.relative_to(base)), p.stat().st_size, p)
        for p in sorted(top.rglob("*"))
        if p.is_file() and not is_temp(p.name)  # (a copy under way: renamed in whole)
    ]


def _frame(table: pa.Table, run_dir: MediaRoot) -> Any:
    """`history(pandas=True)`: the table as a DataFrame, as wandb gives it: a key of
    several kinds (a union) is an object column of its values as logged, and media are
    wandb's dicts, loadable."""
    try:
        import pandas as pd
    except ImportError:
        raise UsageError("history(pandas=True) needs pandas: pip install pandas") from None
    mixed = [f.name for f in table.schema if pa.types.is_union(f.type)]
    frame = table.drop_columns(mixed).to_pandas()
    for c in mixed:
        cells = cells_as_logged(table, c, run_dir)
        frame.insert(table.column_names.index(c), c, pd.Series(cells, dtype=object))
    for c in (c for c in _media_columns(table) if c in frame.columns and c not in mixed):
        frame[c] = cells_as_logged(table, c, run_dir)
    return frame


def cells_as_logged(table: pa.Table, name: str, run_dir: MediaRoot | None) -> list[Any]:
    """A column's values as logged: a union's (`as_logged`), a media column's as MediaRefs
    (wandb's dicts, loadable), any other's as they are."""
    column = table.column(name)
    root = bound_at(run_dir, name)
    if pa.types.is_union(column.type):
        return as_logged(column, root)
    if name in _media_columns(table):
        return [
            MediaRef(json.loads(v), root) if isinstance(v, str) else None
            for v in column.to_pylist()
        ]
    return column.to_pylist()


def _media_columns(table: pa.Table) -> list[str]:
    """The columns of a run's Table that hold media references (its schema says)."""
    return json.loads((table.schema.metadata or {}).get(MEDIA_COLUMNS, b"[]"))


def as_logged(column: pa.ChunkedArray, run_dir: MediaRoot | None) -> list[Any]:
    """A union column's cells (store/logged_union.py), its media child's as MediaRefs."""
    out: list[Any] = []
    for chunk in column.chunks:
        kind = chunk.type
        fields = range(kind.num_fields)
        media = {kind.type_codes[i] for i in fields if kind.field(i).name == MEDIA_CHILD[0]}
        for code, v in zip(chunk.type_codes.to_pylist(), chunk.to_pylist(), strict=True):
            out.append(MediaRef(json.loads(v), run_dir) if code in media and v else v)
    return out


def artifact_entries(meta: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """run.json's `key` ("artifacts", "used_artifacts": flightlog/_run_artifacts.py), each
    version once (one logged again with new aliases is listed once), in order; an entry
    not as flightlog writes them (a hand-edited run.json) is left out."""
    entries = meta.get(key)
    out, seen = [], set()
    for e in entries if isinstance(entries, list) else []:
        if not isinstance(e, dict) or any(k not in e for k in ("project", "name", "version")):
            continue
        ref = tuple(str(e[k]) for k in ("project", "name", "version"))
        if ref not in seen:
            seen.add(ref)
            out.append(e)
    return out
