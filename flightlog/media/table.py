"""`flightlog.Table`: wandb's `Table` (columns + data, a pandas DataFrame, `add_data`,
`add_column`, `add_computed_columns`, `iterrows`, `get_column`, `get_index`, `cast`,
`set_pk`, `set_fk`), cells
holding numbers, text, None or media (an Image cell is stored as its own file), stored as
Parquet. A column whose cells mix types (ints and floats too), or hold media, is stored as
JSON text, so every cell reads back as the type it was logged with.

Row limit, as wandb: a logged table keeps its first `MAX_ARTIFACT_ROWS` rows (200,000: what
wandb's table artifact keeps; `MAX_ROWS`, 10,000, is what older wandb truncated a logged
table to, and scripts raise it - the larger of the two is the limit) and warns that it cut
the rest, naming the setting that raises it.
"""

from __future__ import annotations

import io
import json
import numbers
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from flightlog._config import jsonable
from flightlog._errors import ConfigError
from flightlog.store.media_ref import JSON_COLUMNS_KEY, TABLE_KEYS_KEY

from ._arrays import TENSOR_ERRORS, is_tensor, tensor_array
from ._base import Media, _script_level
from ._sink import MediaSink


class Table(Media):
    """Rows of cells under named columns: `Table(columns=["x", "img"], data=[[1, Image(a)]])`,
    `Table(dataframe=df)`, `table.add_data(2, Image(b))`.

    log() takes a snapshot of the rows: rows added later go into the next log() only."""

    _type = "table-file"
    #: wandb's rows per logged table file, which scripts raise (`wandb.Table.MAX_ROWS = N`)
    MAX_ROWS = 10000
    #: wandb's rows per table artifact: the rows a logged table keeps, if MAX_ROWS is less
    MAX_ARTIFACT_ROWS = 200000

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
        #: wandb's key columns (`set_pk`, `set_fk`): this table's and, per column, the
        #: column of the other table it refers to
        self.primary_key: str | None = None
        self.foreign_keys: dict[str, str] = {}
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

    def add_row(self, *row: Any) -> None:
        """wandb's older name of add_data."""
        self.add_data(*row)

    def add_column(self, name: str, data: Any, optional: bool = False) -> None:
        """Add a column of cells, one per row (a list or a numpy array); the first column of
        a table without any makes its rows. `optional` is wandb's: there it types the column,
        and None cells are taken either way."""
        name = str(name)
        if name in self.columns:
            raise ValueError(f"the table already has a column {name!r}: name each one once")
        cells = list(data)
        if self.columns and len(cells) != len(self.data):
            raise ValueError(f"column {name!r} has {len(cells)} cells for {len(self.data)} rows")
        if not self.columns:
            self.data = [[] for _ in cells]
        self.columns.append(name)
        for row, cell in zip(self.data, cells, strict=True):
            row.append(cell)

    def add_computed_columns(self, fn: Callable[[int, dict[str, Any]], dict[str, Any]]) -> None:
        """Add the columns `fn(index, row as a dict)` returns for each row (a dict of the new
        columns' cells), as wandb does."""
        new: dict[str, list[Any]] = {}
        for i, row in self.iterrows():
            cells = fn(i, dict(zip(self.columns, row, strict=True)))
            if not isinstance(cells, dict):
                raise TypeError(
                    f"add_computed_columns: the function returned a {type(cells).__name__} "
                    "for a row: return a dict of the new columns' cells"
                )
            for k, v in cells.items():
                new.setdefault(k, []).append(v)
        for k, cells in new.items():
            self.add_column(k, cells)

    def iterrows(self) -> Iterator[tuple[int, list[Any]]]:
        """Each row with its index: (0, [cells]), (1, [cells]), ..."""
        yield from enumerate(self.data)

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        """A column's cells; a numpy array with `convert_to="numpy"`."""
        if name not in self.columns:
            raise KeyError(f"the table has no column {name!r} (it has {self.columns})")
        if convert_to not in (None, "numpy"):
            raise ValueError(f"convert_to={convert_to!r}: give None or 'numpy'")
        i = self.columns.index(name)
        cells = [row[i] for row in self.data]
        if convert_to == "numpy":
            return np.array(cells)
        return cells

    def get_index(self) -> list[int]:
        """The rows' indexes, 0 to len-1 (wandb links other tables' rows through them)."""
        return list(range(len(self.data)))

    def index_ref(self, index: int) -> int:
        """The index of row `index`, checked."""
        if not 0 <= index < len(self.data):
            raise IndexError(f"the table has {len(self.data)} rows, no row {index}")
        return index

    def cast(self, col_name: str, dtype: Any, optional: bool = False) -> None:
        """Check that every cell of a column is a `dtype` (a class such as int, str or
        flightlog.Image, or an example value; None only if `optional`): TypeError naming
        the first that is not. A dtype that is no class of these (wandb's own type objects)
        is taken without a check; KeyError for a column the table has not."""
        _check_cells(col_name, self.get_column(col_name), dtype, optional)

    def set_pk(self, col_name: str) -> None:
        """Make a column the table's primary key (wandb's), which other tables' `set_fk`
        refer to: its cells must be strings or numbers. Stored with the table."""
        _check_keys(col_name, self.get_column(col_name))
        self.foreign_keys.pop(col_name, None)
        self.primary_key = col_name

    def set_fk(self, col_name: str, table: Table, table_col: str) -> None:
        """Make a column a foreign key (wandb's): its cells are values of `table_col` in
        `table`. Stored with the table, by the other table's column name (log that table
        too: it is not stored with this one)."""
        if not isinstance(table, Table):
            raise TypeError(
                f"set_fk({col_name!r}, ...): the table referred to is a "
                f"{type(table).__name__}, not a Table: pass the Table itself"
            )
        if col_name == self.primary_key:
            raise ValueError(
                f"column {col_name!r} is the table's primary key: a foreign key is another one"
            )
        table.get_column(table_col)  # KeyError naming the columns it has
        _check_keys(col_name, self.get_column(col_name))
        self.foreign_keys[col_name] = table_col

    def get_dataframe(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    def snapshot(self) -> Table:
        """A copy of the rows as they are now (what log() keeps), cut at the row limit."""
        limit = max(type(self).MAX_ROWS, type(self).MAX_ARTIFACT_ROWS)
        if len(self.data) > limit:
            warnings.warn(
                f"flightlog: a Table of {len(self.data):,} rows is cut to its first {limit:,} "
                "(as wandb does): raise the limit with flightlog.Table.MAX_ARTIFACT_ROWS = N "
                "(or wandb.Table.MAX_ARTIFACT_ROWS)",
                RuntimeWarning,
                stacklevel=_script_level(),
            )
        copy = Table.__new__(Table)
        copy.columns = list(self.columns)
        copy.problem = self.problem
        try:
            copy.data = [[_kept(c) for c in r] for r in self.data[:limit]]
        except ConfigError as e:
            copy.data, copy.problem = [], str(e)
        copy.primary_key, copy.foreign_keys = self.primary_key, dict(self.foreign_keys)
        copy.caption = self.caption
        return copy

    def nbytes(self) -> int:
        return sum(
            m.nbytes() if isinstance(m, Media) else m.nbytes
            for r in self.data
            for m in r
            if isinstance(m, Media | np.ndarray)
        )

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
        meta = {JSON_COLUMNS_KEY: json.dumps(as_json).encode()}
        if self.primary_key is not None or self.foreign_keys:  # (other tables' bytes as before)
            keys = {"primary_key": self.primary_key, "foreign_keys": self.foreign_keys}
            meta[TABLE_KEYS_KEY] = json.dumps(keys).encode()
        table = table.replace_schema_metadata(meta)
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()


def _kept(value: Any) -> Any:
    """A cell as log() keeps it until the writer stores it: an array or a tensor copied, a
    dict or list (or any other object) as the JSON it is stored as, media as their
    snapshot. A cell held by reference showed what the script put in it after log(): a
    buffer of predictions filled in place each epoch read back as the last epoch's in
    every logged table. ConfigError for what JSON cannot hold (a dict holding itself)."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, Media):
        return value.snapshot()
    if isinstance(value, np.ndarray):
        return value.copy()
    if is_tensor(value):
        try:
            return tensor_array(value)
        except TENSOR_ERRORS:
            return str(value)  # (what jsonable stores of a tensor without numbers)
    return jsonable(value, "Table cell")


def _cell(value: Any, sink: MediaSink) -> Any:
    """A cell as stored: media encoded to their reference; anything else as JSON holds it,
    as config values are (numpy / torch scalars unwrapped, arrays and tensors as lists of
    their numbers: an embedding column once read back as its truncated str())."""
    if isinstance(value, Media):
        if value.problem:
            return {"_type": value._type, "dropped": value.problem}
        return value.encode(sink)
    return jsonable(value, "Table cell")


#: the classes `cast` checks, and what each accepts (numpy's numbers too: wandb's "number")
_CHECKED: dict[type, tuple[type, ...]] = {
    int: (numbers.Integral,),
    float: (numbers.Real,),
    bool: (bool, np.bool_),
    str: (str,),
    list: (list, tuple, np.ndarray),
    dict: (dict,),
}


def _check_cells(name: str, cells: list[Any], dtype: Any, optional: bool) -> None:
    """TypeError naming the first cell of column `name` that is None (unless `optional`) or
    not a `dtype` (a class, or an example value; an int is a float too, as in wandb)."""
    kind = dtype if isinstance(dtype, type) or dtype is None else type(dtype)
    if kind is not None and kind not in _CHECKED and not issubclass(kind, Media):
        kind = None  # wandb's own type objects: nothing here to check them by
    kinds = _CHECKED.get(kind, (kind,)) if kind else ()
    for i, cell in enumerate(cells):
        if cell is None:
            if not optional:
                raise TypeError(
                    f"column {name!r} has None in row {i}: pass optional=True to allow it"
                )
        elif kinds and not isinstance(cell, kinds):
            raise TypeError(
                f"column {name!r} row {i} holds a {type(cell).__name__} ({cell!r:.40}), "
                f"not a {kind.__name__}"
            )


def _check_keys(name: str, cells: list[Any]) -> None:
    """TypeError naming the first cell of key column `name` that is no string or number
    (wandb's key types)."""
    for i, cell in enumerate(cells):
        if isinstance(cell, bool | np.bool_) or not isinstance(cell, str | numbers.Real):
            raise TypeError(
                f"column {name!r} row {i} holds a {type(cell).__name__} ({cell!r:.40}): "
                "a key column holds strings or numbers"
            )


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
