"""What `flightlog.Api().runs()` returns: a list of runs (`len`, indexing, slicing and
iterating work as on wandb's paginated `Runs`, the list being whole), with wandb's
`Runs.histories()`: every run's history in one table, a `run_id` per row."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

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
        unless given, as `history()` (wandb samples 500 a run)."""
        if format not in FORMATS:
            raise ArgumentError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        wanted = None if keys is None else list(keys)

        def read(run: ApiRun, pandas: bool) -> Any:
            return run.history(wanted, stream, samples=samples, x_axis=x_axis, pandas=pandas)

        if format == "pandas":
            return _pandas([read(run, True).assign(run_id=run.id) for run in self])
        tables = [(run.id, read(run, False)) for run in self]
        if format == "default":
            return [{**row, "run_id": rid} for rid, t in tables for row in t.to_pylist()]
        try:
            import polars as pl
        except ImportError:
            raise UsageError(
                "histories(format='polars') needs polars: pip install polars"
            ) from None
        frames = [pl.from_arrow(t).with_columns(pl.lit(rid).alias("run_id")) for rid, t in tables]
        if not frames:
            return pl.DataFrame()
        whole = pl.concat(frames, how="diagonal")
        return whole.select(sorted(whole.columns))


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
