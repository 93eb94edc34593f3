"""The workspace's runs list: pick the runs overlaid on the charts and pin one as reference.

space selects or unselects the run under the cursor (its curves are drawn over the charts),
p pins it: the pinned run is drawn first and every other run's legend line says how far it
is from the pinned run's value at the cursor. The pane only posts `Changed`; the screen
reloads the curves (widgets post messages, screens act on them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from flightlog.store.text import fmt

from .data import STATE_ICON
from .table import RepaintOnNewWidths
from .table_fill import fill_table

FIXED = "◆"  # the screen's own runs: always drawn
SELECTED = "•"
PINNED = "★"
HEADER = (" ", " ", "name", "project")  # the marks' column one wide: they change in place


class RunsPane(RepaintOnNewWidths, DataTable[Any]):
    """Runs of the store, one a row: mark, state, name, project."""

    BINDINGS: ClassVar = [
        Binding("space", "select_run", "Overlay", tooltip="overlay the run on the charts or not"),
        Binding("p", "pin_run", "Pin", tooltip="pin the run as the charts' reference"),
    ]

    @dataclass
    class Changed(Message):
        """The runs overlaid or the pinned run changed."""

        selected: tuple[str, ...]
        pinned: str | None

    def __init__(self, fixed: list[str], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.fixed = list(fixed)
        self.selected: list[str] = []
        self.pinned: str | None = None
        self.run_rows: list[dict[str, Any]] = []

    def on_mount(self) -> None:
        self.add_columns(*HEADER)

    def show_runs(self, rows: list[dict[str, Any]]) -> None:
        """The store's runs (the screen's own first), keeping the cursor on its run."""
        current = self._under_cursor()
        ordered = sorted(rows, key=lambda r: r["run_key"] not in self.fixed)
        if _shown(ordered) == _shown(self.run_rows):
            return  # the periodic refresh of an unchanged store: nothing to redraw or re-measure
        self.run_rows = ordered
        keys = [r["run_key"] for r in self.run_rows]
        label = project_labels(self.run_rows)
        cells = [
            [
                Text(self.mark(k)),
                STATE_ICON.get(r["state"], ""),
                Text(fmt(r["name"])),
                Text(fmt(label(r))),
            ]
            for k, r in zip(keys, self.run_rows, strict=True)
        ]
        fill_table(self, HEADER, cells, keys)  # widths set now: see tui/table_fill.py
        if current in keys:
            self.move_cursor(row=keys.index(current))

    def mark(self, run_key: str) -> str:
        if run_key == self.pinned:
            return PINNED
        return FIXED if run_key in self.fixed else SELECTED if run_key in self.selected else ""

    def _under_cursor(self) -> str | None:
        return self.run_rows[self.cursor_row]["run_key"] if self.run_rows else None

    def _changed(self) -> None:
        for i, r in enumerate(self.run_rows):
            self.update_cell_at((i, 0), Text(self.mark(r["run_key"])))
        self.post_message(self.Changed(tuple(self.selected), self.pinned))

    def action_select_run(self) -> None:
        key = self._under_cursor()
        if key is None or key in self.fixed:
            return
        if key in self.selected:
            self.selected.remove(key)
            if self.pinned == key:
                self.pinned = None
        else:
            self.selected.append(key)
        self._changed()

    def action_pin_run(self) -> None:
        key = self._under_cursor()
        if key is None:
            return
        if self.pinned == key:
            self.pinned = None
        else:
            self.pinned = key
            if key not in self.fixed and key not in self.selected:
                self.selected.append(key)
        self._changed()


def project_labels(rows: list[dict[str, Any]]) -> Callable[[dict[str, Any]], str]:
    """A run's project as the pane names it: `entity/project` where entities share the
    project's name among `rows`, else the name alone (the pane is narrow)."""
    entities: dict[str, set[Any]] = {}
    for r in rows:
        entities.setdefault(r["project"], set()).add(r.get("entity"))

    def label(r: dict[str, Any]) -> str:
        shared = len(entities.get(r["project"], ())) > 1
        return f"{r['entity']}/{r['project']}" if shared and r.get("entity") else r["project"]

    return label


def _shown(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What the pane shows of each run (its marks are updated in place)."""
    return [(r["run_key"], r["state"], r["name"], r.get("entity"), r["project"]) for r in rows]
