"""Swapping a runs table's data, redrawing only the rows that changed.

While runs train, every refresh brings a listing whose training runs' steps, duration and
summary changed and nothing else; replacing the table's data and clearing its render
caches redrew every visible row (~5% of a core with 8 runs in view, most of a refresh).
textual-fastdatatable caches each rendered cell and row line by its row index, so when the
new data has the same columns and rows and no cell wider than its column has room for
(`shown_widths`: a column keeps its width when its widest cell narrows), only the cache
entries of the rows whose cells differ (and the cell entries of the cells that differ) are
dropped and only those rows are repainted, without a new layout (repainting the whole
table drew every visible line again: most of a refresh on screen).
"""

from __future__ import annotations

import pyarrow as pa
from textual_fastdatatable import ArrowBackend, DataTable


def redraw_changed(table: DataTable, new: pa.Table) -> bool:
    """Give `table` the data `new` and redraw the rows whose cells changed, if `new` has the
    same columns, as many rows and no cell wider than its column as shown; False (and
    nothing done) otherwise: the caller lays the table out again."""
    backend = table.backend
    if not isinstance(backend, ArrowBackend):
        return False
    old = backend.data
    if old.schema != new.schema or old.num_rows != new.num_rows:
        return False
    fresh = ArrowBackend(new)
    widths = fresh.column_content_widths
    if any(w > room for w, room in zip(widths, shown_widths(table), strict=True)):
        return False
    # a column whose widest cell got narrower (a loss of 0.00256 after 0.002559) keeps its
    # width: a new layout redraws every visible line (columns move only when one grows)
    was = backend.column_content_widths
    fresh._column_content_widths = [max(a, b) for a, b in zip(was, widths, strict=True)]
    cells = changed_cells(old, new)
    changed = {row for row, _ in cells}
    table.backend = fresh
    if changed:
        for key in list(table._row_render_cache.keys()):
            if key[0] in changed:  # (the row cache's keys start with the row index)
                table._row_render_cache.discard(key)
        for key in list(table._cell_render_cache.keys()):
            if key[:2] in cells:  # (and the cell cache's with the row's and column's)
                table._cell_render_cache.discard(key)
        for key in list(table._line_cache.keys()):
            if key[0] - 1 in changed:  # (a line's key starts with its y: the header is 0)
                table._line_cache.discard(key)
        table._tooltip_cache.clear()
        for row in changed:  # (the compositor draws those lines only, not the whole table)
            table.refresh_row(row)
    return True


def shown_widths(table: DataTable) -> list[int]:
    """The widest cell each column has room for as laid out: its widest cell when it was, or
    its header when wider (a run's steps reaching 1,000 fit under `steps`), at most the
    table's cap. A cell that fits needs no new layout: a layout draws every visible line
    again, as much as a whole refresh of the screen while runs train."""
    cap = table.max_column_content_width
    return [
        c.content_width if cap is None else min(c.content_width, cap) for c in table.ordered_columns
    ]


def changed_cells(old: pa.Table, new: pa.Table) -> set[tuple[int, int]]:
    """The (row, column) indexes of the cells that differ between two tables of the same
    shape (a training run's steps, duration and metrics: its other cells are drawn from
    the render cache)."""
    out: set[tuple[int, int]] = set()
    for j, (a, b) in enumerate(zip(old.columns, new.columns, strict=True)):
        if not a.equals(b):
            pairs = zip(a.to_pylist(), b.to_pylist(), strict=True)
            out.update((i, j) for i, (x, y) in enumerate(pairs) if x != y)
    return out
