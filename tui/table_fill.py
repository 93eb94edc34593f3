"""Filling a DataTable whole, with every column's width set from its cells at once.

Textual measures an auto-width column's cells later, on the table's next idle pass, and its
render caches do not notice the widths changing: a frame drawn between the rows arriving and
that pass (a loaded machine does it now and then) left the cells cut at the header's width
for good (the flaky `test_snapshot_run_screen`). Widths given when the columns are added
leave nothing to measure later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

Cell = Text | str  # a str is markup, as DataTable reads it


def _width(cell: Cell) -> int:
    text = Text.from_markup(cell) if isinstance(cell, str) else cell
    return max((line.cell_len for line in text.split(allow_blank=True)), default=0)


def fill_table(
    table: DataTable[Any],
    header: Sequence[Cell],
    rows: Sequence[Sequence[Cell]],
    keys: Sequence[str] | None = None,
) -> None:
    """`table` cleared and filled with `header` and `rows` (row `keys` if given), each column
    as wide as its widest cell, the cursor kept on its row."""
    row = table.cursor_row
    table.clear(columns=True)
    for i, label in enumerate(header):
        width = max([_width(label), *(_width(r[i]) for r in rows if i < len(r))])
        table.add_column(label, width=width)
    for i, cells in enumerate(rows):
        table.add_row(*cells, key=keys[i] if keys else None)
    if rows:
        table.move_cursor(row=min(row, len(rows) - 1))
