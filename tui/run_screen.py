"""The run screen: a workspace of panes around one run (tui/run_panes.py lists them):
overview, metric table, config tree, a grid of charts with other runs overlaid (one pinned as
reference), the runs list, system metrics and console output."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import DataTable, Header, Input, Static, Tree

from flightlog.store.layout import split_run_key
from flightlog.store.run_snapshot import changed
from flightlog.store.text import fmt, safe

from .artifacts_screen import ArtifactsScreen
from .chart_pages import PAGE_BINDINGS, ChartStatus
from .chart_view import CHART_BINDINGS, XRange
from .context_screens import ConsoleScreen, ContextLoads, SystemScreen
from .data import Curves, RunDetail, load_curves, load_run, load_runs
from .footer import KeyFooter
from .media_screen import MediaScreen  # imports textual-image before the app starts
from .run_charts import RunCharts
from .run_overview import fill_config_tree, fill_metric_table, overview
from .run_panes import RUN_PANES
from .runs_pane import RunsPane
from .workers import REFRESH_SECONDS, StoreScreen, deliver, store_work
from .workspace import LEAVE, NARROW, Workspace, pane_bindings


class RunScreen(RunCharts, Workspace, ContextLoads, StoreScreen):
    """One run, live while it trains."""

    PANES = RUN_PANES
    LAYOUT_NAME = "run"

    BINDINGS: ClassVar = [
        LEAVE,
        Binding(
            "slash",
            "focus_regex",
            "Charts regex",
            tooltip="chart every metric matching a regex (loss|acc)",
        ),
        Binding("x", "toggle_x", "x: step/time", tooltip="x axis: step or wall time"),
        Binding(
            "X",
            "x_metric",
            "x: this metric",
            tooltip="x axis: the metric under the cursor (epoch, tokens)",
        ),
        Binding(
            "enter",
            "toggle_metric",
            "Chart metric",
            show=False,
            tooltip="add or remove the chart of the metric under the cursor",
        ),
        Binding(
            "S", "system", "System", tooltip="system metrics: CPU, memory, disk, network, GPUs"
        ),
        Binding("o", "console", "Output", tooltip="the run's console output, followed live"),
        Binding(
            "f",
            "filter_console",
            show=False,
            description="filter output",
            tooltip="type to filter the console pane's lines (shows the pane)",
        ),
        Binding("y", "copy_id", "Copy id"),
        Binding(
            "A",
            "artifacts",
            "Artifacts",
            show=False,
            tooltip="the artifacts this run logged or used",
        ),
        Binding(
            "i",
            "media",
            "Media",
            show=False,
            tooltip="images, tables, audio, video, HTML",
        ),
        *PAGE_BINDINGS,
        *CHART_BINDINGS,
        *pane_bindings(RUN_PANES),
    ]

    def __init__(self, root: Path, run_key: str) -> None:
        super().__init__()
        self.root = root
        self.run_key = run_key
        self.detail: RunDetail | None = None
        self.charted: list[str] = []
        self.regex: re.Pattern[str] | None = None
        self.loading_charts = False
        self.overlaid: tuple[str, ...] = ()
        self.others: dict[str, Curves] = {}
        self.others_range: XRange | None = None
        self.whole: dict[str, Curves] = {}
        self.names: dict[str, str] = {}
        self.metrics_width = 0  # the metric table's width its names were cut to

    def compose(self) -> ComposeResult:
        yield Header()

        def regex_bar() -> Iterator[Widget]:
            yield Input(
                placeholder="charts: metrics matching a regex, e.g. loss|acc "
                "(enter on a metric adds it)",
                id="regex",
            )
            yield ChartStatus(id="chart-status")

        yield from self.compose_regions(regex_bar)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load_layout()
        self.fit_panes()
        self.fill_metrics()
        self.reload()
        self.load_context()
        self.refresh_every(REFRESH_SECONDS, self.reload_if_running, "run")
        self.refresh_every(REFRESH_SECONDS, self.load_context, *self.CONTEXT_GROUPS)

    # -- data ----------------------------------------------------------------------------
    def reload(self) -> None:
        self.query_one("#charts").loading = self.detail is None or self.loading_charts
        self.load(self.overlaid)  # the shown context panes have their own refresh
        if self.query_one(RunsPane).display:
            self.load_run_list()

    @store_work("loading the run", group="run")
    def load(self, overlaid: tuple[str, ...]) -> None:
        # one scan for stats and curves (and one of the zoomed range)
        x_range = self.x_range
        detail = load_run(self.root, self.run_key, x=self.x_axis, x_range=x_range)
        others, extent = self.read_others(overlaid, x_range)
        deliver(self, self.show_detail, detail, overlaid, others, extent, x_range)

    def read_others(
        self, overlaid: tuple[str, ...], x_range: XRange | None
    ) -> tuple[dict[str, Curves], XRange | None]:
        """The overlaid runs' curves over `x_range` and their whole extent (a worker's)."""
        others = [k for k in overlaid if k != self.run_key]
        if not others:
            return {}, None
        full = load_curves(self.root, others, None, x=self.x_axis)
        xs = [x for c in full.values() for s in c.values() for x in s["x"]]
        extent = (min(xs), max(xs)) if xs else None
        if x_range is None:
            return full, extent
        return load_curves(self.root, others, None, x=self.x_axis, x_range=x_range), extent

    @store_work("listing the runs", group="runs")
    def load_run_list(self) -> None:
        deliver(self, self.show_run_list, load_runs(self.root, None, None).rows)

    def show_run_list(self, rows: list[dict[str, Any]]) -> None:
        self.names = {r["run_key"]: fmt(r["name"]) for r in rows}
        self.query_one(RunsPane).show_runs(rows)

    def on_runs_pane_changed(self, event: RunsPane.Changed) -> None:
        self.pinned = event.pinned
        self.overlaid = tuple(dict.fromkeys(event.selected))
        self.loading_charts = True
        self.reload()

    def requery(self) -> None:
        self.zoom_to(self.x_range, self.overlaid, self.queried_keys())

    @store_work("zooming the charts", group="run")
    def zoom_to(
        self, x_range: XRange | None, overlaid: tuple[str, ...], metrics: list[str]
    ) -> None:
        """Only the charted metrics' curves, re-downsampled over the new range (no stats)."""
        keys = [self.run_key, *(k for k in overlaid if k != self.run_key)]
        curves = load_curves(self.root, keys, metrics, x=self.x_axis, x_range=x_range)
        deliver(self, self.show_zoomed, x_range, overlaid, curves)

    def show_zoomed(
        self, x_range: XRange | None, overlaid: tuple[str, ...], curves: dict[str, Curves]
    ) -> None:
        if self.detail is not None and x_range == self.x_range and overlaid == self.overlaid:
            self.detail.curves = curves.get(self.run_key, {})
            self.others = {k: v for k, v in curves.items() if k != self.run_key}
            self.curves_range = x_range
            self.redraw()

    def reload_if_running(self) -> None:
        """A running run, or a finished one resumed since it was read (store/run_snapshot.py)."""
        if self.detail is not None and (
            self.detail.row["state"] == "running"
            or (isinstance(self.root, Path) and changed(self.root, self.run_key))
        ):
            self.reload()

    def show_detail(
        self,
        d: RunDetail,
        overlaid: tuple[str, ...],
        others: dict[str, Curves],
        extent: XRange | None,
        x_range: XRange | None,
    ) -> None:
        first = self.detail is None
        if overlaid != self.overlaid:
            return  # the runs overlaid changed meanwhile: a newer load is on its way
        x_metric = self.x_axis.removeprefix("metric:")
        if first and x_metric != self.x_axis and x_metric not in {s["key"] for s in d.metrics}:
            # the layout remembers an x metric of another run: this one is plotted by step
            self.notify(f"this run has no {safe(x_metric)}: x axis by step", markup=False)
            self.x_axis = "step"
            self.reload()
            return
        self.curves_range = x_range
        self.loading_charts = False
        self.query_one("#charts").loading = False
        self.detail = d
        self.others, self.others_range = others, extent
        if x_range is None:
            self.whole = {**others, self.run_key: d.curves}
        self.names[self.run_key] = fmt(d.row["name"])
        self.query_one("#overview", Static).update(overview(d))
        self.fill_metrics()
        if first:
            self.fill_config()
            numeric = [s["key"] for s in d.metrics if s["last"] is not None]
            self.charted = numeric[:4]
        self.redraw()

    @property
    def narrow(self) -> bool:
        return self.app.size.width < NARROW

    def on_resize(self) -> None:
        self.fit_panes()
        self.apply_grid()
        if self.has_class("narrow") != self.narrow:
            self.fill_metrics()
        self.call_after_refresh(self.refit_metrics)

    def refit_metrics(self) -> None:
        """The metric table again when its width changed: long names are cut to it."""
        if self.query_one("#metrics", DataTable).size.width != self.metrics_width:
            self.fill_metrics()

    def pane_toggled(self, name: str) -> None:
        if name == "runs" and self.query_one(RunsPane).display:
            self.load_run_list()
        self.load_context()
        self.call_after_refresh(self.apply_grid)  # the chart box's height may have changed

    def action_filter_console(self) -> None:
        if not self.query_one("#console").display:
            self.action_pane("console")
        if self.query_one("#console").display:
            self.query_one("#console-filter").focus()

    def fill_metrics(self) -> None:
        """The metric table; below NARROW columns the left pane widens (app.tcss)."""
        self.set_class(self.narrow, "narrow")
        stats = self.detail.metrics if self.detail else []
        table = self.query_one("#metrics", DataTable)
        fill_metric_table(table, stats, self.narrow)
        self.metrics_width = table.size.width

    def fill_config(self) -> None:
        assert self.detail is not None
        fill_config_tree(self.query_one("#config", Tree), self.detail.config)

    @on(Input.Changed, "#regex")
    def regex_changed(self, event: Input.Changed) -> None:
        self.filter_charts(event.value)

    def action_focus_regex(self) -> None:
        self.query_one("#regex", Input).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_toggle_metric()

    def action_system(self) -> None:
        self.app.push_screen(SystemScreen(self.root, self.run_key))

    def action_console(self) -> None:
        self.app.push_screen(ConsoleScreen(self.root, self.run_key))

    def action_media(self) -> None:
        self.app.push_screen(MediaScreen(self.root, self.run_key))

    def action_artifacts(self) -> None:
        if isinstance(self.root, Path):  # a server's artifacts are not listed here
            self.app.push_screen(ArtifactsScreen(self.root, self.run_key))

    def action_copy_id(self) -> None:
        run_id = split_run_key(self.run_key)[2]
        self.app.copy_to_clipboard(run_id)
        self.notify(f"copied {run_id}", markup=False)
