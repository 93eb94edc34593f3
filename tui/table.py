"""flightlog's DataTables repaint their lines when their idle pass changes column widths.

Textual's DataTable (8.2.8) measures the cells of rows added and cells updated on its next
idle pass (`_on_idle` -> `_update_dimensions`), which widens the auto-width columns but leaves
`_update_count` alone. Every render cache is keyed by that count and none by the columns'
widths (`_cell_render_cache` for cells, the header's too; `_row_render_cache` for row lines;
`_line_cache` for screen lines), so a frame drawn between `add_row` and that pass (a loaded
machine does it now and then) is drawn from the cache at the old widths until something else
bumps the count: a cursor move, a resize. A table of `height: auto` shows only its header
before that pass (its height is the measured one), and grows after it: its row lines are then
drawn fresh and wide, its header from the cache, at the widths of the table without the rows
(the artifacts snapshot failed so; the Resize that follows bumps the count but repaints
nothing). Upstream fixed the same for `update_cell` (textual#3533), not this path.

`table_fill.fill_table` gives every column its width at once, so even the first frame is
right; this makes any later width change (auto-width columns) repaint, whoever fills.

A mixin, not a DataTable subclass to derive from: Textual ranks a class's DEFAULT_CSS by how
far the widget's class is below it, and textual-fastdatatable's DataTable (the runs table)
has the same CSS type name, so one more level let its rules (`color: $text`) win over
Textual's on every table here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.widgets import DataTable
from textual.widgets.data_table import CellType, RowKey


class RepaintOnNewWidths:
    """Put first in the bases of a DataTable subclass: its lines are drawn anew when its idle
    pass changes column widths."""

    def _update_dimensions(self: DataTable[Any], new_rows: Iterable[RowKey]) -> None:
        before = _widths(self)
        super()._update_dimensions(new_rows)  # type: ignore[misc]
        if _widths(self) != before:
            self._update_count += 1  # a new key for every render cache: nothing drawn is reused
            self.refresh()


class Table(RepaintOnNewWidths, DataTable[CellType]):
    """A DataTable whose lines are drawn anew when its idle pass changes column widths."""


def _widths(table: DataTable[Any]) -> list[int]:
    columns = table.columns.values()
    return [table._row_label_column_width, *(c.get_render_width(table) for c in columns)]
