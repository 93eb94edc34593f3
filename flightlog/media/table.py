"""`flightlog.Table`: wandb's `Table` (columns + data, a pandas DataFrame, `add_data`), cells
holding numbers, text, None or media (an Image cell is stored as its own file), stored as
Parquet. A column whose cells mix types (ints and floats too), or hold media, is stored as
JSON text, so every cell reads back as the type it was logged with."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa

from flightlog._config import jsonable
from flightlog.store.media_ref import JSON_COLUMNS_KEY

from ._base import Media
from ._sink import MediaSink


class Table(Media):
    """Rows of cells under named columns: `Table(columns=["x", "img"], data=[[1, Image(a)]])`,
    `Table(dataframe=df)`, `table.add_data(2, Image(b))`.

    log() takes a snapshot of the rows: rows added later go into the next log() only."""

    _type = "table-file"

    def __init__(
        self,
        columns: list[str] | None = None,
        data: Any = None,
        rows: Any = None,
        dataframe: Any = None,
        dtype: Any = None,
        optional: Any = True,
        allow_mixed_types: bool = False,
        log_mode: str | None = None,
    ) -> None:
        self.problem = None
        if dataframe is not None or _is_dataframe(data):
            df = dataframe if dataframe is not None else data
            columns = [str(c) for c in df.columns]
            data = df.values.tolist()
        data = data if data is not None else rows
        self.data: list[list[Any]] = [list(r) for r in data] if data is not None else []
        if columns is None:
            width = len(self.data[0]) if self.data else 0
            columns = ["Input", "Output", "Expected"][:width] if width <= 3 else None
            columns = columns or [f"col{i}" for i in range(width)]
        self.columns = [str(c) for c in columns]
        self._check()

    def _check(self) -> None:
        if len(set(self.columns)) != len(self.columns):
            self.problem = f"Table columns {self.columns} repeat a name: name each one once"
        bad = next((r for r in self.data if len(r) != len(self.columns)), None)
        if bad is not None:
            self.problem = (
                f"a Table row has {len(bad)} cells for {len(self.columns)} columns "
                f"{self.columns}: give every row one cell per column"
            )

    def add_data(self, *data: Any) -> None:
        if len(data) != len(self.columns):
            raise ValueError(
                f"add_data() got {len(data)} values for {len(self.columns)} columns "
                f"{self.columns}: pass one per column"
            )
        self.data.append(list(data))

    def add_column(self, name: str, data: list[Any]) -> None:
        if len(data) != len(self.data):
            raise ValueError(f"column {name!r} has {len(data)} cells for {len(self.data)} rows")
        self.columns.append(str(name))
        for row, cell in zip(self.data, data, strict=True):
            row.append(cell)

    def get_column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.data]

    def get_dataframe(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    def snapshot(self) -> Table:
        """A copy of the rows as they are now (what log() keeps)."""
        copy = Table.__new__(Table)
        copy.columns = list(self.columns)
        copy.data = [list(r) for r in self.data]
        copy.problem = self.problem
        copy.caption = self.caption
        return copy

    def nbytes(self) -> int:
        return sum(m.nbytes() for r in self.data for m in r if isinstance(m, Media))

    # -- the writer side -------------------------------------------------------------------
    def encode(self, sink: MediaSink) -> dict[str, Any]:
        ref = self._fields()
        ref.update(
            format="parquet", nrows=len(self.data), ncols=len(self.columns), columns=self.columns
        )
        return sink.put(self.parquet(sink), ref)

    def parquet(self, sink: MediaSink) -> bytes:
        arrays, as_json = [], []
        for i, name in enumerate(self.columns):
            cells = [_cell(r[i], sink) for r in self.data]
            arr = _typed(cells)
            if arr is None:
                as_json.append(name)
                arr = pa.array(
                    [None if c is None else json.dumps(c, default=str) for c in cells], pa.string()
                )
            arrays.append(arr)
        table = pa.table(dict(zip(self.columns, arrays, strict=True))) if arrays else pa.table({})
        table = table.replace_schema_metadata({JSON_COLUMNS_KEY: json.dumps(as_json).encode()})
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()


def _cell(value: Any, sink: MediaSink) -> Any:
    """A cell as stored: media encoded to their reference; anything else as JSON holds it,
    as config values are (numpy / torch scalars unwrapped, arrays and tensors as lists of
    their numbers: an embedding column once read back as its truncated str())."""
    if isinstance(value, Media):
        if value.problem:
            return {"_type": value._type, "dropped": value.problem}
        return value.encode(sink)
    return jsonable(value, "Table cell")


def _typed(cells: list[Any]) -> pa.Array | None:
    """An Arrow column of plain cells of one type (ints, floats, bools or strings, with
    None); None when they mix types or hold anything else."""
    kinds = {type(c) for c in cells if c is not None}
    if len(kinds) > 1 or not kinds <= {int, float, bool, str}:
        return None
    try:
        return pa.array(cells)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None


def _is_dataframe(data: Any) -> bool:
    return type(data).__name__ == "DataFrame" and hasattr(data, "columns")
