"""Reading only some keys of a history segment, and reading keys as dictionaries.

Sealed segments are written sorted by (key, step) within each batch of rows, in row groups
cut at key boundaries (store/sealing.py), so a row group's `key` statistics (min, max) name
a narrow range of keys: `history(keys=[...])` decodes only the row groups whose range holds
a wanted key. Segments written before that (every key in every row group) have wide ranges,
so every row group is read: they are still read correctly, just not faster.

Reading `key` as a Parquet dictionary skips building one Python-free string per row (the
costliest column to decode); the readers (store/wide.py) work on the dictionary codes.
store/segments.py, on the write path, imports this module: pyarrow.compute is loaded only
when keys are filtered.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Sequence

import pyarrow as pa
import pyarrow.parquet as pq


def row_groups_with(pf: pq.ParquetFile, keys: Collection[str]) -> list[int]:
    """The row groups of `pf` that may hold one of `keys` (by their `key` statistics)."""
    wanted = sorted(keys)
    col = pf.schema_arrow.get_field_index("key")
    out = []
    for i in range(pf.metadata.num_row_groups):
        stats = pf.metadata.row_group(i).column(col).statistics
        if stats is None or not stats.has_min_max:
            out.append(i)
            continue
        j = bisect_left(wanted, stats.min)
        if j < len(wanted) and wanted[j] <= stats.max:
            out.append(i)
    return out


def read_parquet_keys(
    pf: pq.ParquetFile, keys: Collection[str] | None, columns: Sequence[str] | None = None
) -> pa.Table:
    """The rows of `pf`, only those of `keys` if given (only their row groups are read);
    `columns`: only these are decoded (with `keys`, `key` must be one of them)."""
    if keys is None:
        return pf.read(columns)
    table = pf.read_row_groups(row_groups_with(pf, keys), columns)
    return only_keys(table, keys)


def only_columns(table: pa.Table, columns: Sequence[str] | None) -> pa.Table:
    """`table`'s `columns` (every one for None), its schema's metadata kept (a segment's
    writer and journal mark)."""
    return table if columns is None else table.select(list(columns))


def only_keys(table: pa.Table, keys: Collection[str] | None) -> pa.Table:
    """The rows of `table` whose key is one of `keys` (all rows for None); a `key` column
    read as a dictionary is matched on its dictionary, not row by row."""
    if keys is None or table.num_rows == 0:
        return table
    import pyarrow.compute as pc  # readers only: the write path imports this module

    value_set = pa.array(list(keys), pa.string())
    col = table.column("key")
    if pa.types.is_dictionary(col.type):
        masks = [pc.is_in(c.dictionary, value_set).take(c.indices) for c in col.chunks]
        mask = pa.chunked_array(masks, pa.bool_())
    else:
        mask = pc.is_in(col, value_set)
    return table.filter(mask)


def plain_key_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with a dictionary `key` given as its plain string type (for validation)."""
    i = schema.get_field_index("key")
    if i < 0 or not pa.types.is_dictionary(schema.field(i).type):
        return schema
    f = schema.field(i)
    return schema.set(i, pa.field("key", f.type.value_type, nullable=f.nullable))
