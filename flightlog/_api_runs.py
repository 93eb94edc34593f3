"""What `flightlog.Api().runs()` returns: a list of runs (`len`, indexing, slicing and
iterating work as on wandb's paginated `Runs`, the list being whole), with wandb's
`Runs.histories()`: every run's history in one table, a `run_id` per row.

A key that logged several kinds of value is a union column in a run's Table
(store/logged_union.py), which neither pandas nor polars takes as it is: both frames hold
it as an object column of the values as logged (flightlog/_api_run.py `as_logged`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ._api_run import cells_as_logged
from ._errors import ArgumentError, UsageError

if TYPE_CHECKING:
    from ._api_run import ApiRun

FORMATS = ("default", "pandas", "polars")


class Runs(list["ApiRun"]):
    """The runs of `Api.runs()`, in its order."""

    def histories(
        self,
        samples: int | None = None,
        keys: Iterable[str] | None = None,
        x_axis: str = "_step",
        format: str = "default",
        stream: str = "default",
    ) -> Any:
        """Each run's `history()` (same `samples`, `keys`, `x_axis`, `stream`) with a
        `run_id`: wandb's formats, "default" a list of row dicts, "pandas" one DataFrame
        (columns sorted, as wandb's), "polars" one polars DataFrame. `samples`: every row
        unless given, as `history()` (wandb samples 500 a run).

        A key of several kinds (a number, then a string; an int, then a histogram), in one
        run or between runs, is an object column of the values as logged in both frames:
        numbers as numbers, strings as strings, media as loadable references, anything else
        (lists, histograms) as its text. polars gives ints in one run and floats in another
        as floats, as pandas does."""
        if format not in FORMATS:
            raise ArgumentError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        wanted = None if keys is None else list(keys)

        def read(run: ApiRun, pandas: bool) -> Any:
            return run.history(wanted, stream, samples=samples, x_axis=x_axis, pandas=pandas)

        if format == "pandas":
            return _pandas([read(run, True).assign(run_id=run.id) for run in self])
        if format == "default":
            return [
                {**row, "run_id": run.id} for run in self for row in read(run, False).to_pylist()
            ]
        return _polars([(run, read(run, False)) for run in self])


def _pandas(frames: list[Any]) -> Any:
    """The runs' DataFrames in one, its columns sorted (wandb's order)."""
    try:
        import pandas as pd
    except ImportError:
        raise UsageError("histories(format='pandas') needs pandas: pip install pandas") from None
    if not frames:
        return pd.DataFrame()
    whole = pd.concat(frames, ignore_index=True)
    return whole[sorted(whole.columns)]


def _polars(tables: list[tuple[ApiRun, pa.Table]]) -> Any:
    """The runs' Tables in one polars DataFrame, its columns sorted. polars has no union
    type, and its concat refuses a column of two types: a column that is a union in a run,
    or of two kinds between runs, is an Object column of the values as logged in every run's
    frame (ints and floats alone are left to polars' supertype, a float)."""
    try:
        import polars as pl
    except ImportError:
        raise UsageError("histories(format='polars') needs polars: pip install polars") from None
    if not tables:
        return pl.DataFrame()
    mixed = _mixed_columns([t for _, t in tables])
    frames = []
    for run, t in tables:
        kept = [c for c in t.column_names if c not in mixed]
        frame = pl.from_arrow(t.select(kept)).with_columns(pl.lit(run.id).alias("run_id"))
        frames.append(
            frame.with_columns(
                pl.Series(c, cells_as_logged(t, c, run._media_root()), dtype=pl.Object)
                for c in t.column_names
                if c in mixed
            )
        )
    whole = pl.concat(frames, how="diagonal_relaxed")
    return whole.select(sorted(whole.columns))


def _mixed_columns(tables: list[pa.Table]) -> set[str]:
    """The columns a single polars type cannot hold: a union in any Table, or of two types
    between Tables but ints and floats (a column of nulls alone, a key a run lacks, has no
    kind)."""
    types: dict[str, set[pa.DataType]] = {}
    for t in tables:
        for f in t.schema:
            if not pa.types.is_null(f.type):
                types.setdefault(f.name, set()).add(f.type)
    return {
        name
        for name, seen in types.items()
        if any(pa.types.is_union(k) for k in seen)
        or (
            len(seen) > 1
            and not all(pa.types.is_integer(k) or pa.types.is_floating(k) for k in seen)
        )
    }
