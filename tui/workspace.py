"""The run screen as a workspace of panes: overview, metric table, config and charts, each
shown or hidden by a key, and the charts in a grid of 1 to 3 columns.

At 80x24 the answer to too little room is hiding panes (the left ones go with 1-3, the
charts take the width), never clipping them: a hidden pane leaves the screen entirely.
"""

from __future__ import annotations

from textual.binding import Binding

PANES = ("overview", "metrics", "config", "charts")  # keys 1-4, in this order
LEFT = ("overview", "metrics", "config")
MAX_COLUMNS = 3

PANE_BINDINGS: list[Binding] = [
    *(
        Binding(
            str(i),
            f"pane('{pane}')",
            show=False,
            description=f"{pane} pane",
            tooltip=f"show or hide the {pane} pane",
        )
        for i, pane in enumerate(PANES, 1)
    ),
    Binding("g", "grid", "Grid", tooltip="charts in 1, 2 or 3 columns"),
]


class Workspace:
    """Mixed into a screen with #overview, #metrics, #config in #run-left and #charts in
    #run-right (its BINDINGS must include PANE_BINDINGS)."""

    grid_columns = 1

    def action_pane(self, pane: str) -> None:
        widget = self.query_one(f"#{pane}")  # type: ignore[attr-defined]
        widget.display = not widget.display
        left_shown = any(self.query_one(f"#{p}").display for p in LEFT)  # type: ignore[attr-defined]
        self.query_one("#run-left").display = left_shown  # type: ignore[attr-defined]
        self.query_one("#run-right").display = self.query_one("#charts").display  # type: ignore[attr-defined]
        if pane == "charts" and not widget.display:
            self.query_one("#metrics").focus()  # type: ignore[attr-defined]

    def action_grid(self) -> None:
        self.grid_columns = self.grid_columns % MAX_COLUMNS + 1
        box = self.query_one("#charts")  # type: ignore[attr-defined]
        box.styles.layout = "grid" if self.grid_columns > 1 else "vertical"
        box.styles.grid_size_columns = self.grid_columns
        box.styles.grid_rows = "auto"
        self.notify(f"charts in {self.grid_columns} column{'s' if self.grid_columns > 1 else ''}")  # type: ignore[attr-defined]
