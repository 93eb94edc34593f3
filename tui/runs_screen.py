"""The runs screen: every run in a table with a filter bar, marks for compare, live refresh.

The store's index (or a team server) filters and sorts by the column sorted by, and the
table holds the first pages of the answer (tui/runs_data.py's PAGE runs each): reaching the last
row, or L, loads the next page. A store of 10,000 runs paints as fast as one of 500 and
holds as little; a listing that fits in one page is sorted and grouped in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Header, Input, Static
from textual.worker import get_current_worker

from flightlog.store.layout import split_run_key
from flightlog.store.text import safe

from .artifacts_screen import ArtifactsScreen
from .filterbar import FilterBar
from .footer import KeyFooter
from .runs_data import RunList, Source, describe_more, load_last_look, load_runs
from .runs_order import empty_text, ordered_rows, status_text
from .runs_table import RunsTable, build_table, columns_of, server_sort
from .workers import REFRESH_SECONDS, StoreScreen, deliver, store_work


class IndexingStopped(Exception):
    """The screen left while the store's index was being built (the built part is kept)."""


class RunsScreen(StoreScreen):
    """Every run: filter bar, sortable table, marks for compare, live refresh."""

    BINDINGS: ClassVar = [
        Binding(
            "slash",
            "focus_filter",
            "Filter",
            tooltip="filter the runs (same language as --where); enter applies",
        ),
        Binding(
            "escape",
            "focus_table",
            "Table",
            show=False,
            tooltip="leave the filter or columns bar, back to the table",
        ),
        Binding(
            "enter",
            "open_run",
            "Open",
            show=False,
            tooltip="open the run under the cursor (on a group header: fold it)",
        ),
        Binding(
            "space",
            "toggle_mark",
            "Mark ↓",
            tooltip="mark the run for compare and move down (space on a header folds it)",
        ),
        Binding("c", "compare", "Compare", tooltip="compare the marked runs"),
        Binding(
            "A",
            "artifacts",
            "Artifacts",
            show=False,
            tooltip="artifact versions, aliases and lineage",
        ),
        Binding("s", "sort", "Sort", tooltip="sort by the cursor's column; again reverses"),
        Binding(
            "less_than_sign",
            "sort_step(-1)",
            "Sort <",
            show=False,
            tooltip="sort by the column left of the one sorted by",
        ),
        Binding(
            "greater_than_sign",
            "sort_step(1)",
            "Sort >",
            show=False,
            tooltip="sort by the column right of the one sorted by",
        ),
        Binding("g", "group", "Group", tooltip="group by project, then by group, then not"),
        Binding(
            "m",
            "columns",
            "Columns",
            tooltip="choose the summary-metric columns (lists what is available)",
        ),
        Binding("y", "copy_id", "Copy id", tooltip="copy the run's id"),
        Binding("Y", "copy_path", "Copy path", show=False, tooltip="copy the run's directory"),
        Binding(
            "r",
            "reload",
            "Refresh",
            show=False,
            tooltip="refresh now (it refreshes every 2 s anyway)",
        ),
        Binding(
            "L",
            "load_more",
            "More",
            show=False,
            tooltip="the next page of runs (also loaded on reaching the last row)",
        ),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.runs: RunList | None = None
        self.order: list[dict[str, Any]] = []
        self.marked: set[str] = set()
        self.sort_column = "started"
        self.sort_desc = True  # newest first, a store's as a server's (wandb's runs table)
        self.where: str | None = None
        self.metrics: list[str] = []  # summary columns the user picked ([]: the default)
        self.group_by: str | None = None
        self.collapsed: set[str] = set()
        self.agent_note: str | None = None  # pending runs and no sync agent (sync/lock.py)
        self.gone = False  # the store's directory is not there (looked at by the worker)
        self.remote = isinstance(root, Source)
        self.limit: int | None = None  # runs asked for (None: the first page)
        self.placed_row = -1  # where a refresh put the cursor (not a move of the user's)
        self.checking = False  # showing the index's last look while the files are looked at
        self.status_text = ""  # what the status line shows

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="runs-pane"):
            yield FilterBar()
            yield Input(
                placeholder="summary columns, e.g. val/acc, val/loss (enter applies, "
                "empty: the default)",
                id="columns",
            )
            yield Static("", id="columns-hint", markup=False)
            yield RunsTable(id="runs")
            yield Static(empty_text(self.root, False), id="empty")
            yield Static("loading…", id="status", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#empty").display = False
        self.query_one("#columns").display = False
        self.query_one("#columns-hint").display = False
        self.app.sub_title = str(self.root)
        self.query_one(RunsTable).focus()
        self.reload()
        self.refresh_every(REFRESH_SECONDS, self.reload, "runs")

    # -- loading -------------------------------------------------------------------------
    @store_work("listing the runs", group="runs")
    def reload(self) -> None:
        sort = server_sort(self.sort_column, self.sort_desc)
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            """A first build of a big store's index: how far it got; leaving stops it."""
            if worker.is_cancelled:
                raise IndexingStopped(f"stopped after indexing {done:,} of {total:,} runs")
            if self.runs is None and (done % 100 == 0 or done == total):
                text = f"indexing runs: {done:,} of {total:,} (kept if you quit)"
                self.status_text = text
                self.app.call_from_thread(self.query_one("#status", Static).update, text)

        args = (self.root, self.where, sort, self.metrics, self.limit)
        if self.runs is None and (first := load_last_look(*args)) is not None:
            deliver(self, self.show_runs, first, True)  # at once; the stat pass follows
        runs = load_runs(*args, progress)
        from flightlog.sync.lock import idle_agent_note

        if isinstance(self.root, Path):  # a server's runs have no local sync agent
            pending = sum(r["sync"] == "pending" for r in runs.rows)
            self.agent_note = idle_agent_note(self.root, pending)
            self.gone = not runs.rows and not self.root.exists()
        deliver(self, self.show_runs, runs)
        if runs.partial and not worker.is_cancelled:
            describe_more(self.root, lambda: worker.is_cancelled)  # a batch a refresh

    def action_reload(self) -> None:
        self.reload()

    def show_runs(self, runs: RunList, last_look: bool = False) -> None:
        """Show `runs`; `last_look`: as the index saw the store last, a look at the files
        under way (said in the status line until it ends)."""
        self.checking = last_look
        if self.runs is not None and self.runs.shows_the_same(runs):
            self.update_status()  # (the sync agent's note may have changed)
            return  # the periodic refresh of an unchanged store: no table to rebuild
        self.runs = runs
        self.arrange_rows()
        empty = not runs.rows and not self.where
        if empty:
            self.query_one("#empty", Static).update(empty_text(self.root, self.gone))
        self.query_one("#empty").display = empty
        self.query_one(RunsTable).display = not empty
        self.update_status()

    def arrange_rows(
        self, cursor_key: str | None = None, cursor_shift: int = 0, top: bool = False
    ) -> None:
        """Sort (and group) the loaded runs into the table, keeping the cursor on its row (a
        refresh), or on the first row (`top`: a sort the user asked for shows its start)."""
        if self.runs is None:
            return
        table = self.query_one(RunsTable)
        current = cursor_key or self.current_key() or self.current_header()
        self.order = ordered_rows(
            self.runs, self.sort_column, self.sort_desc, self.group_by, self.collapsed
        )
        ids = [o.get("run_key") or ("group:" + o["header"]) for o in self.order]
        row = ids.index(current) + cursor_shift if current in ids else table.cursor_row
        if top:
            row = 0
        self.placed_row = min(max(row, 0), len(ids) - 1)
        table.show(build_table(self.runs, self.order, self.marked), row)

    def update_status(self) -> None:
        if self.runs is None:
            return
        text = status_text(
            self.runs,
            sort=(self.sort_column, self.sort_desc),
            group_by=self.group_by,
            marked=len(self.marked),
            note=self.agent_note,
            checking=self.checking,
            where=self.where,
        )
        if text != self.status_text:  # an update lays the screen out again (every 2 s)
            self.status_text = text
            self.query_one("#status", Static).update(text)

    def current_item(self) -> dict[str, Any] | None:
        table = self.query_one(RunsTable)
        if not self.order or table.cursor_row >= len(self.order):
            return None
        return self.order[table.cursor_row]

    def current_key(self) -> str | None:
        """The run under the cursor (None on a group header)."""
        item = self.current_item()
        return item.get("run_key") if item else None

    def current_header(self) -> str | None:
        item = self.current_item()
        return "group:" + item["header"] if item and "header" in item else None

    # -- filter --------------------------------------------------------------------------
    @on(FilterBar.Applied)
    def filter_applied(self, event: FilterBar.Applied) -> None:
        self.where = event.where
        self.limit = None
        self.action_focus_table()
        self.reload()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_focus_table(self) -> None:
        """Back to the table; esc in the filter bar drops what was typed but not applied."""
        self.query_one(FilterBar).show(self.where)
        self.query_one("#columns").display = False
        self.query_one("#columns-hint").display = False
        self.query_one(RunsTable).focus()

    # -- actions on runs ----------------------------------------------------------------
    def action_toggle_mark(self) -> None:
        item = self.current_item()
        if item is None:
            return
        if "header" in item:  # space on a group header folds or unfolds it
            self.collapsed ^= {item["header"]}
            self.arrange_rows()
            return
        self.marked ^= {item["run_key"]}
        self.arrange_rows(item["run_key"], cursor_shift=1)
        self.update_status()

    def action_group(self) -> None:
        """Cycle grouping: none -> project -> group -> none."""
        self.group_by = {None: "project", "project": "group", "group": None}[self.group_by]
        self.collapsed.clear()
        self.arrange_rows()
        self.update_status()

    def action_columns(self) -> None:
        bar = self.query_one("#columns", Input)
        bar.value = ", ".join(self.runs.metrics if self.runs else [])
        hint = self.query_one("#columns-hint", Static)
        available = sorted(
            {k for s in (self.runs.summaries.values() if self.runs else []) for k in s}
        )
        shown = [safe(k) for k in available if not k.startswith("_")]
        hint.update("available: " + (", ".join(shown) or "(no summary metrics yet)"))
        hint.display = True
        bar.display = True
        bar.focus()

    @on(Input.Submitted, "#columns")
    def columns_submitted(self, event: Input.Submitted) -> None:
        self.metrics = [k.strip() for k in event.value.replace(",", " ").split() if k.strip()]
        self.action_focus_table()
        self.reload()

    def action_sort(self) -> None:
        table = self.query_one(RunsTable)
        columns = columns_of(self.runs.metrics if self.runs else [])
        column = columns[min(table.cursor_column, len(columns) - 1)] or "started"
        if column == self.sort_column:
            self.sort_desc = not self.sort_desc
        else:  # a column's first sort: ascending, but start time newest first
            self.sort_column, self.sort_desc = column, column == "started"
        self.arrange_rows(top=True)
        self.update_status()
        if self.paged():  # which runs come first is the index's (or the server's) answer
            self.limit = None
            self.reload()

    def action_sort_step(self, step: int) -> None:
        """Sort by the column `step` columns away from the one sorted by: the table's cursor
        is a row cursor, which left and right only scroll, so this is how the keyboard
        reaches a column (clicking a header does it with the mouse)."""
        columns = columns_of(self.runs.metrics if self.runs else [])
        here = columns.index(self.sort_column if self.sort_column in columns else "started")
        to = 1 + (here - 1 + step) % (len(columns) - 1)  # 1 on: not the marks' column
        self.query_one(RunsTable).move_cursor(column=to)
        self.action_sort()

    def paged(self) -> bool:
        """Whether the table holds only the first pages of the runs that match."""
        runs = self.runs
        return runs is not None and runs.total is not None and len(runs.rows) < runs.total

    def action_load_more(self) -> None:
        """The next page of runs, below those shown."""
        runs = self.runs
        if runs is None or not self.paged():
            return
        self.limit = len(runs.rows) + 1  # the source rounds up to its next page
        self.reload()

    def on_data_table_row_highlighted(self, event: Any) -> None:
        """The user reaching the last row of a paged listing loads the next page."""
        last = len(self.order) - 1
        if self.paged() and event.cursor_row == last != self.placed_row:
            self.action_load_more()

    def on_data_table_header_selected(self, event: Any) -> None:
        self.query_one(RunsTable).move_cursor(column=event.column_index)
        self.action_sort()

    def on_data_table_row_selected(self, event: Any) -> None:
        self.action_open_run()

    def action_open_run(self) -> None:
        if self.current_header():
            self.action_toggle_mark()  # enter on a group header folds it too
            return
        key = self.current_key()
        if key is not None:
            from .run_screen import RunScreen

            self.app.push_screen(RunScreen(self.root, key))

    def action_compare(self) -> None:
        keys = [r["run_key"] for r in self.order if r["run_key"] in self.marked]
        if len(keys) < 2:
            self.notify("mark at least two runs with space, then press c", severity="warning")
            return
        from .compare_screen import CompareScreen

        self.app.push_screen(CompareScreen(self.root, keys))

    def action_artifacts(self) -> None:
        if isinstance(self.root, Path):  # a server's artifacts are not listed here
            self.app.push_screen(ArtifactsScreen(self.root))

    def action_copy_id(self) -> None:
        key = self.current_key()
        if key:
            run_id = split_run_key(key)[2]
            self.app.copy_to_clipboard(run_id)
            self.notify(f"copied {run_id}", markup=False)

    def action_copy_path(self) -> None:
        key = self.current_key()
        if key and isinstance(self.root, Path):
            path = str(self.root / "runs" / key)
            self.app.copy_to_clipboard(path)
            self.notify(f"copied {path}", markup=False)
