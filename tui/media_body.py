"""One logged media value drawn in a widget: the media pane's body, and each run's column on
the compare screen's media pane.

    body = MediaBody(id="media-body")
    body.show(ref, which)   # loads in a thread; `which` names the value (a newer one wins)

Images side by side (textual-image's widget for this terminal: tui/image_support.py), a table
as a sortable DataTable, anything else as a note. Every stored string is shown escaped.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from rich.text import Text
from textual import work
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from flightlog.store.media_load import LoadedTable
from flightlog.store.media_ref import MediaRef
from flightlog.store.text import safe

from .image_support import ImageWidget
from .media_data import describe, load_content
from .table import RepaintOnNewWidths
from .workers import deliver


class MediaBody(VerticalScroll):
    """Draws one media value (what `show` was last given); a scroll box for big tables."""

    DEFAULT_CSS = """
    MediaBody { height: 1fr; }
    MediaBody ImageWidget, MediaBody Image, MediaBody HalfcellImage {
        width: auto; height: auto;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shown: Hashable | None = None  # what the body holds, or is loading

    def show(self, ref: MediaRef | None, which: Hashable, note: str = "") -> None:
        """Draw `ref` (`which` names it: the same `which` again draws nothing new); no ref
        shows `note` instead."""
        if self.shown == which:
            return
        self.shown = which
        if ref is None:
            self.call_later(self._fill, note, which)
        else:
            self._load(ref, which)

    @work(thread=True, exclusive=True, group="media-body", exit_on_error=False)
    def _load(self, ref: MediaRef, which: Hashable) -> None:
        deliver(self.screen, self._fill, load_content(ref), which)

    async def _fill(self, content: Any, which: Hashable) -> None:
        if which != self.shown:
            return  # the user moved on while this loaded
        await self.remove_children()
        if isinstance(content, list):
            await self.mount(Horizontal(*(ImageWidget(im) for im in content)))
        elif isinstance(content, LoadedTable):
            await self.mount(_table(content))
        else:
            note = (
                content if isinstance(content, str) else "press v to open it with the system viewer"
            )
            await self.mount(Static(Text(safe(note))))


class _SortedTable(RepaintOnNewWidths, DataTable[Text]):
    """A logged table: a click (or enter) on a header sorts by that column, again reverses."""

    sorted_by: tuple[Any, bool] | None = None

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        reverse = self.sorted_by == (event.column_key, False)
        self.sort(event.column_key, key=_sort_key, reverse=reverse)
        self.sorted_by = (event.column_key, reverse)


def _sort_key(cell: Text) -> tuple[int, float, str]:
    text = cell.plain
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def _table(table: LoadedTable) -> DataTable[Text]:
    view = _SortedTable(zebra_stripes=True, cursor_type="row", id="media-table")
    view.add_columns(*(Text(safe(c)) for c in table.columns))
    view.add_rows([[Text(_cell(c)) for c in row] for row in table.data])
    return view


def _cell(value: Any) -> str:
    if isinstance(value, MediaRef):
        return safe(describe(value))
    return "" if value is None else safe(str(value))
