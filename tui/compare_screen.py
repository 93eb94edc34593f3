"""The compare screen: marked runs overlaid per metric, config differences, summaries with
the best values, as a workspace of panes (toggled by keys, remembered per user). The runs pane
picks which runs are drawn (space) and pins one as the reference (p)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Header, Input, Static

from flightlog.store.text import fmt, safe

from .chart_pages import PAGE_BINDINGS, ChartPages, ChartStatus
from .chart_view import CHART_BINDINGS, SMOOTHING, ChartView, XRange
from .charts import COLORS, ChartCard
from .compare_media import CompareMedia
from .compare_tables import fill_config_diff, fill_summary
from .context_screens import ContextLoads, SystemPane
from .data import Curves, RunDetail, load_curves, load_runs_detail
from .footer import KeyFooter
from .runs_pane import RunsPane
from .step_axis import StepAxis, chart_axes, step_metric_of
from .table import Table
from .workers import REFRESH_SECONDS, StoreScreen, deliver, store_work
from .workspace import LEAVE, Pane, Workspace, pane_bindings

BUCKETS = 200


def _table(name: str, title: str) -> DataTable[Any]:
    table: DataTable[Any] = Table(id=name, zebra_stripes=True)
    table.border_title = title
    return table


COMPARE_PANES: tuple[Pane, ...] = (
    Pane(
        "runs",
        "5",
        "runs compared (space draws a run or not, p pins it as the reference)",
        "left",
        5,
        lambda s: RunsPane([], id="runs"),
    ),
    Pane(
        "summary",
        "1",
        "summaries, the best in green (better: define_metric, else the name)",
        "left",
        5,
        lambda s: _table("summary", "summary (best in green)"),
    ),
    Pane(
        "config-diff",
        "3",
        "config that differs",
        "left",
        4,
        lambda s: _table("config-diff", "config"),
    ),
    Pane("charts", "4", "charts", "main", 10, lambda s: VerticalScroll(id="charts")),
    Pane(
        "system",
        "6",
        "system metrics of the runs drawn, overlaid (the reference first), at the cursor's time",
        "bottom",
        8,
        lambda s: SystemPane(s.run_keys[0], id="system"),
        default=False,
    ),
    Pane(
        "media",
        "8",
        "media side by side at the cursor's step (, . step when focused)",
        "bottom",
        10,
        lambda s: CompareMedia(s.root, s.run_keys, id="media"),
        default=False,
    ),
)


class CompareScreen(ChartPages, ChartView, Workspace, ContextLoads, StoreScreen):
    PANES = COMPARE_PANES
    LAYOUT_NAME = "compare"
    PER_PAGE = 8  # charts drawn at once: each overlays every run
    BINDINGS: ClassVar = [
        LEAVE,
        Binding(
            "slash",
            "focus_regex",
            "Filter keys",
            show=False,
            tooltip="chart only the keys matching a regex (loss|acc), as wandb's panel search",
        ),
        *PAGE_BINDINGS,
        *CHART_BINDINGS,
        *pane_bindings(COMPARE_PANES),
    ]

    def __init__(self, root: Path, run_keys: list[str]) -> None:
        super().__init__()
        self.root = root
        self.run_keys = run_keys
        self.names: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.drawn: set[str] = set(run_keys)  # the runs pane's selection
        self.curves: dict[str, dict[str, Any]] = {}  # metric -> run_key -> series
        self.keys: list[str] = []  # every metric key of the runs, sorted
        self.shown: list[str] = []  # the keys charted: the page of those the filter left
        self.regex: re.Pattern[str] | None = None  # the key filter (/)
        #: the curves over the whole runs (the last unzoomed load): a zoomed chart's step
        #: metric maps the view's edges through them (tui/step_axis.py)
        self.whole: dict[str, dict[str, Any]] = {}
        self.definitions: list[Any] = []  # the runs' define_metric() records
        self.bounds: XRange | None = None
        self.running = False  # a compared run was training at the last load

    def compose(self) -> ComposeResult:
        yield Header()

        def legend_bar() -> Any:
            yield Static("", id="legend")
            regex = Input(placeholder="charts: keys matching a regex, e.g. loss|acc", id="regex")
            regex.display = False  # shown by / and while it holds a filter
            yield regex
            yield ChartStatus(id="chart-status")

        yield from self.compose_regions(legend_bar)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load_layout()
        self.x_axis = "step"  # the compare screen plots by step
        self.fit_panes()
        self.load(self.x_range)  # then the context panes (they need the runs' names)
        self.refresh_every(REFRESH_SECONDS, self.reload_if_running, "compare")
        self.refresh_every(REFRESH_SECONDS, self.load_context_if_running, "system")

    def on_resize(self) -> None:
        self.fit_panes()
        self.apply_grid()

    def pane_toggled(self, name: str) -> None:
        self.load_context()
        self.call_after_refresh(self.apply_grid)

    @property
    def run_key(self) -> str:  # type: ignore[override]  # ContextLoads': the system pane's run
        """The reference run: the pinned one, else the first drawn."""
        return (self.chart_runs() or self.run_keys)[0]

    def system_runs(self) -> list[str]:
        """Every run drawn, the reference first (as the charts order them)."""
        drawn = [k for k in self.run_keys if k in self.drawn]
        return sorted(drawn, key=lambda k: k != self.pinned) or self.run_keys[:1]

    def system_labels(self) -> dict[str, str]:
        return self.names

    def load_context_if_running(self) -> None:
        if self.running:
            self.load_context()

    def reload_if_running(self) -> None:
        """While a compared run trains: its curves, summary, best values and media again."""
        if self.running:
            self.load(self.x_range)
            if self.query_one(CompareMedia).display:
                self.query_one(CompareMedia).reload()

    @store_work("loading the runs to compare", group="compare")
    def load(self, x_range: XRange | None) -> None:
        """Every run's stats, and its curves over `x_range` (the zoom kept while it trains)."""
        details = load_runs_detail(self.root, self.run_keys, buckets=BUCKETS, x_range=x_range)
        metrics = sorted({k for d in details for k in d.curves})
        curves = {
            m: {d.row["run_key"]: d.curves[m] for d in details if m in d.curves} for m in metrics
        }
        deliver(self, self.show, details, metrics, curves, x_range)

    async def show(
        self,
        details: list[RunDetail],
        metrics: list[str],
        curves: dict[str, Any],
        x_range: XRange | None,
    ) -> None:
        first = not self.names
        self.names = {d.row["run_key"]: fmt(d.row["name"]) for d in details}
        self.ids = {d.row["run_key"]: fmt(d.row["id"]) for d in details}
        self.definitions = [m for d in details for m in d.meta.get("metrics") or []]
        self.running = any(d.row["state"] == "running" for d in details)
        spans = [d.x_bounds for d in details if d.x_bounds]
        self.bounds = (min(b[0] for b in spans), max(b[1] for b in spans)) if spans else None
        runs = self.query_one(RunsPane)
        if first:
            runs.selected = list(self.run_keys)
            self.load_context()  # with the runs' names
        runs.show_runs([d.row for d in details])
        self.show_run_colors()
        fill_config_diff(self.query_one("#config-diff", DataTable), details, self.names)
        fill_summary(self.query_one("#summary", DataTable), details, self.names)

        self.keys = metrics
        await self.mount_cards()
        if x_range == self.x_range:  # else a zoom's query is on its way with its curves
            self.curves, self.curves_range = curves, x_range
        else:
            self.curves = {m: self.curves.get(m, {}) for m in metrics}
        self.redraw()
        if self.cursor is not None:
            self.read_legend()  # new cards, or a run that reached the cursor's step

    async def mount_cards(self) -> None:
        """A card for each key of the page shown (the filter and page as they stand)."""
        picked = [k for k in self.keys if self.regex.search(k)] if self.regex else self.keys
        self.shown = self.page_of(picked)
        hint = "/: filter by name"
        if self.regex:
            hint = f"{len(picked)} match {safe(self.regex.pattern)} · / edits the filter"
        self.show_status(len(self.shown), len(self.keys), "keys", hint)
        box = self.query_one("#charts", VerticalScroll)
        if [c.key for c in box.query(ChartCard)] != self.shown:
            await box.remove_children()
            await box.mount_all([ChartCard(m) for m in self.shown])
            self.apply_grid()

    def charts_changed(self) -> None:
        """Another page, or another filter: its cards, drawn from the curves in hand (a load
        holds every key's), else re-queried (a zoom's holds the keys it drew)."""

        async def show_page() -> None:
            await self.mount_cards()
            if self.curves_range != self.x_range or any(m not in self.curves for m in self.shown):
                self.requery()
            else:
                self.redraw()
            if self.cursor is not None:
                self.read_legend()

        self.call_later(show_page)

    def action_focus_regex(self) -> None:
        regex = self.query_one("#regex", Input)
        regex.display = True
        regex.focus()

    @on(Input.Changed, "#regex")
    def regex_changed(self, event: Input.Changed) -> None:
        self.filter_charts(event.value)

    @on(Input.Blurred, "#regex")
    def regex_left(self, event: Input.Blurred) -> None:
        event.input.display = bool(event.value.strip())  # an empty box takes no room

    def show_run_colors(self) -> None:
        """The line over the charts: each run drawn, in its colour (the pinned one first)."""
        legend = Text()
        for i, k in enumerate(self.chart_runs()):
            legend.append("━━ ", style=COLORS[i % len(COLORS)])
            star = "★ " if k == self.pinned else ""
            legend.append(f"{star}{self.names[k]} ({self.ids[k]})  ")
        self.query_one("#legend", Static).update(legend)

    def on_runs_pane_changed(self, event: RunsPane.Changed) -> None:
        self.drawn, self.pinned = set(event.selected), event.pinned
        self.show_run_colors()
        self.load_context()  # the system pane follows the runs drawn and the reference
        self.redraw()
        self.read_legend()

    # -- the charts' cursor and zoom (ChartView) ----------------------------------------
    def chart_runs(self) -> list[str]:
        """The runs drawn, the pinned one first."""
        keys = [k for k in self.run_keys if k in self.names and k in self.drawn]
        return sorted(keys, key=lambda k: k != self.pinned)

    def plotted(self) -> dict[str, dict[str, Any]]:
        runs = self.chart_runs()
        return {
            m: {k: per[k] for k in runs if k in per}
            for m, per in self.curves.items()
            if m in self.shown
        }

    def full_range(self) -> XRange | None:
        return self.bounds

    def step_axes(self) -> dict[str, dict[str, StepAxis]]:
        """metric -> run -> the step metric it is drawn against (tui/step_axis.py), when the
        charts hold the step metric too; the first run drawn maps the cursor and zoom.
        Unzoomed curves are kept as the whole runs' (`whole`), for a zoom's edges."""
        runs = self.chart_runs()
        by_run = _by_run(self.curves)
        if self.curves_range is None:
            self.whole = by_run
        if not runs:
            return {}
        return chart_axes(self.shown, self.definitions, by_run, runs[0], self.whole)

    def redraw(self) -> None:
        plotted, axes, runs = self.plotted(), self.step_axes(), self.chart_runs()
        for card in self.query(ChartCard):
            card.chart.draw(
                plotted.get(card.key, {}),
                self.names,
                log_y=self.log_y,
                smoothing=SMOOTHING[self.smoothing],
                x_view=self.view(),
                zoomed=self.x_range is not None,
                cursor=self.cursor,
                order=runs,
                axes=axes.get(card.key),
                main=runs[0] if runs else None,
            )
        self.drawn_range = self.curves_range

    def requery(self) -> None:
        self.zoom_to(self.x_range)

    @store_work("zooming the charts", group="zoom")
    def zoom_to(self, x_range: XRange | None) -> None:
        """The charts' runs re-downsampled over the new range, in one scan: the keys shown
        and the step metrics they are drawn against (their curves map steps to values)."""
        keys = [k for k in self.run_keys if k in self.names]
        wanted = [step_metric_of(m, self.definitions) for m in self.shown]
        metrics = list(dict.fromkeys([*self.shown, *(m for m in wanted if m is not None)]))
        curves = load_curves(self.root, keys, metrics, buckets=BUCKETS, x_range=x_range)
        deliver(self, self.show_zoomed, x_range, metrics, curves)

    def show_zoomed(
        self, x_range: XRange | None, metrics: list[str], by_run: dict[str, Curves]
    ) -> None:
        """The keys queried over the range, alone in hand: the other pages' are queried when
        they are shown (charts_changed)."""
        if x_range != self.x_range:
            return  # a newer zoom is on its way
        self.curves_range = x_range
        self.curves = {
            m: {k: by_run[k][m] for k in self.run_keys if m in by_run.get(k, {})} for m in metrics
        }
        self.redraw()


def _by_run(curves: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """metric -> run -> series, as run -> metric -> series."""
    out: dict[str, dict[str, Any]] = {}
    for m, per in curves.items():
        for k, series in per.items():
            out.setdefault(k, {})[m] = series
    return out
