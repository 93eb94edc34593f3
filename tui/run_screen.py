"""The run screen: overview, config tree, metrics with sparklines, and a grid of charts."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.widgets import DataTable, Footer, Header, Input, Static, Tree

from flightlog.store.layout import split_run_key
from flightlog.store.text import fmt, fmt_value, metric_cells, safe

from .chart_view import CHART_BINDINGS, ChartView, XRange
from .charts import ChartCard
from .data import STATE_ICON, Curves, RunDetail, load_curves, load_run, plural
from .media_screen import MediaScreen  # imports textual-image before the app starts
from .workers import StoreScreen, deliver, store_work
from .workspace import PANE_BINDINGS, Workspace

MAX_CHARTS = 12
SMOOTHING = (0.0, 0.6, 0.9)
NARROW = 110  # below this width the metric table drops its sparkline and gets more room
COLUMNS = ("metric", "last", "min", "max", "n", "")


def text(value: object) -> str:
    """A stored value for the overview: control characters and markup escaped."""
    return escape(fmt(value))


class RunScreen(ChartView, Workspace, StoreScreen):
    """One run, live while it trains."""

    BINDINGS: ClassVar = [
        Binding("escape,q", "app.pop_screen", "Back"),
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
        Binding("l", "toggle_log", "Log y", tooltip="log scale on y"),
        Binding("m", "cycle_smoothing", "Smooth", tooltip="smoothing 0, 0.6, 0.9"),
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
        Binding("y", "copy_id", "Copy id"),
        Binding(
            "i",
            "media",
            "Media",
            show=False,
            tooltip="images, tables, audio, video, HTML",
        ),
        *CHART_BINDINGS,
        *PANE_BINDINGS,
    ]

    def __init__(self, root: Path, run_key: str) -> None:
        super().__init__()
        self.root = root
        self.run_key = run_key
        self.detail: RunDetail | None = None
        self.charted: list[str] = []
        self.regex: re.Pattern[str] | None = None
        self.x_axis = "step"  # "step", "time" or "metric:KEY"
        self.loading_charts = False
        self.log_y = False
        self.smoothing = 0

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="run-left"):
                yield Static("loading…", id="overview")
                yield DataTable(id="metrics", cursor_type="row", zebra_stripes=True)
                yield Tree("config", id="config")
            with Vertical(id="run-right"):
                yield Input(
                    placeholder="charts: metrics matching a regex, e.g. loss|acc "
                    "(enter on a metric adds it)",
                    id="regex",
                )
                yield VerticalScroll(id="charts")
        yield Footer()

    def on_mount(self) -> None:
        self.fill_metrics()
        self.reload()
        self.refresh_every(2.0, self.reload_if_running, "run")

    # -- data ----------------------------------------------------------------------------
    def reload(self) -> None:
        self.query_one("#charts").loading = self.detail is None or self.loading_charts
        self.load()

    @store_work("loading the run", group="run")
    def load(self) -> None:
        # one scan for stats and curves (and one of the zoomed range)
        detail = load_run(self.root, self.run_key, x=self.x_axis, x_range=self.x_range)
        deliver(self, self.show_detail, detail)

    def requery(self) -> None:
        self.zoom_to(self.x_range)

    @store_work("zooming the charts", group="run")
    def zoom_to(self, x_range: XRange | None) -> None:
        """Only the charts' curves, re-downsampled over the new range (no stats)."""
        curves = load_curves(self.root, [self.run_key], None, x=self.x_axis, x_range=x_range)
        deliver(self, self.show_zoomed, x_range, curves.get(self.run_key, {}))

    def show_zoomed(self, x_range: XRange | None, curves: Curves) -> None:
        if self.detail is not None and x_range == self.x_range:
            self.detail.curves = curves
            self.draw_charts()

    def reload_if_running(self) -> None:
        if self.detail is not None and self.detail.row["state"] == "running":
            self.reload()

    def show_detail(self, d: RunDetail) -> None:
        first = self.detail is None
        self.loading_charts = False
        self.query_one("#charts").loading = False
        self.detail = d
        m = d.meta
        r = {k: text(v) for k, v in d.row.items()}  # stored text: escaped, never markup
        git = {k: text(v) for k, v in (m.get("git") or {}).items()}
        lines = [
            f"[b]{r['name']}[/b] ({r['id']}) · {r['project']} · "
            f"{STATE_ICON.get(d.row['state'], '')} {r['state']}",
            f"group {r['group'] or '-'} · job {r['job_type'] or '-'} · tags {r['tags'] or '-'}",
            f"started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(d.row['created_at']))} "
            f"on {r['host']} · {plural(d.row['steps'] or 0, 'step')}",
        ]
        if git:
            lines.append(
                f"git {git.get('commit', '')[:12]}"
                f"{' [b yellow](dirty)[/]' if m['git'].get('dirty') else ''} "
                f"{git.get('branch') or ''}"
            )
        lines.append("$ " + " ".join(text(a) for a in m.get("command") or []))
        extra = {
            k: v
            for k, v in d.summary.items()
            if not k.startswith("_") and k not in {s["key"] for s in d.metrics}
        }
        if extra:  # summary values set directly (run.summary[k] = v), not in the history
            lines.append("summary " + ", ".join(f"{text(k)}={text(v)}" for k, v in extra.items()))
        if d.row["error"]:
            lines.append(f"[red]{text(d.row['error'].strip().splitlines()[-1])}[/]")
        if r["warnings"]:
            lines.append(f"[yellow]! {r['warnings']}[/]")
        self.query_one("#overview", Static).update("\n".join(lines))
        self.fill_metrics()
        if first:
            self.fill_config()
            numeric = [s["key"] for s in d.metrics if s["last"] is not None]
            self.charted = numeric[:4]
        self.draw_charts()

    @property
    def narrow(self) -> bool:
        return self.app.size.width < NARROW

    def on_resize(self) -> None:
        if self.has_class("narrow") != self.narrow:
            self.fill_metrics()

    def fill_metrics(self) -> None:
        """The metric table, whole at any width: below NARROW columns the sparkline goes
        (the charts show the curve) and the left pane widens, so names and counts fit."""
        narrow = self.narrow
        self.set_class(narrow, "narrow")
        table = self.query_one("#metrics", DataTable)
        row = table.cursor_row
        columns = COLUMNS[:-1] if narrow else COLUMNS
        table.clear(columns=True)
        table.add_columns(*columns)
        stats = self.detail.metrics if self.detail else []
        for st in stats:
            table.add_row(*map(Text, metric_cells(st)[: len(columns)]), key=st["key"])
        if stats:
            table.move_cursor(row=min(row, len(stats) - 1))

    def fill_config(self) -> None:
        assert self.detail is not None
        tree = self.query_one("#config", Tree)
        tree.clear()
        nested: dict[str, Any] = {}
        for key, value in self.detail.config.items():  # dotted keys back into a tree
            node = nested
            *parents, leaf = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value

        def add(parent: Any, d: dict[str, Any]) -> None:
            for k, v in d.items():
                if isinstance(v, dict):
                    add(parent.add(Text(safe(k)), expand=True), v)
                else:
                    parent.add_leaf(Text(f"{safe(k)} = {fmt_value(v)}"))

        add(tree.root, nested)
        tree.root.expand()

    # -- charts --------------------------------------------------------------------------
    def chart_keys(self) -> list[str]:
        if self.detail is None:
            return []
        numeric = [s["key"] for s in self.detail.metrics if s["last"] is not None]
        if self.regex is not None:
            return [k for k in numeric if self.regex.search(k)][:MAX_CHARTS]
        return self.charted[:MAX_CHARTS]

    def chart_runs(self) -> list[str]:
        return [self.run_key]

    def plotted(self) -> dict[str, dict[str, Any]]:
        if self.detail is None:
            return {}
        curves = self.detail.curves
        return {k: {self.run_key: curves[k]} for k in self.chart_keys() if k in curves}

    def full_range(self) -> XRange | None:
        return self.detail.x_bounds if self.detail else None

    def redraw(self) -> None:
        self.draw_charts()

    def draw_charts(self) -> None:
        """Charts from the curves loaded with the run (no query: toggles are instant)."""
        if self.detail is not None:
            keys = self.chart_keys()
            self.run_worker(
                self.show_charts(keys, self.plotted()),
                exclusive=True,
                group="charts",
                description="drawing the charts",
                exit_on_error=False,
            )

    async def show_charts(self, keys: list[str], curves: dict[str, Any]) -> None:
        box = self.query_one("#charts", VerticalScroll)
        existing = {c.key: c for c in box.query(ChartCard)}
        if list(existing) != keys:
            await box.remove_children()
            await box.mount_all([ChartCard(k) for k in keys])
            existing = {c.key: c for c in box.query(ChartCard)}
            self.show_legends(self.readings or {})
        x_label = {"step": "step", "time": "time (s since epoch)"}.get(
            self.x_axis, self.x_axis.removeprefix("metric:")
        )
        for k in keys:
            existing[k].chart.draw(
                curves.get(k, {}),
                {},
                x_label=x_label,
                log_y=self.log_y,
                smoothing=SMOOTHING[self.smoothing],
                x_view=self.view(),
                zoomed=self.x_range is not None,
                cursor=self.cursor,
            )

    @on(Input.Changed, "#regex")
    def regex_changed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        try:
            self.regex = re.compile(text) if text else None
        except re.error as e:
            self.notify(f"bad regex: {e}", severity="error")
            return
        self.draw_charts()

    def action_focus_regex(self) -> None:
        self.query_one("#regex", Input).focus()

    def action_toggle_metric(self) -> None:
        table = self.query_one("#metrics", DataTable)
        if self.detail is None or not self.detail.metrics:
            return
        key = self.detail.metrics[table.cursor_row]["key"]
        self.charted = (
            [k for k in self.charted if k != key] if key in self.charted else [key, *self.charted]
        )
        self.draw_charts()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_toggle_metric()

    def action_toggle_x(self) -> None:
        self.x_axis = "time" if self.x_axis == "step" else "step"
        self.x_range = self.cursor = None  # in units of the other axis
        self.loading_charts = True
        self.reload()  # buckets along the other axis: one new scan

    def action_x_metric(self) -> None:
        """Plot every chart against the metric under the cursor (e.g. epoch, tokens)."""
        if self.detail is None or not self.detail.metrics:
            return
        key = self.detail.metrics[self.query_one("#metrics", DataTable).cursor_row]["key"]
        self.x_axis = "step" if self.x_axis == f"metric:{key}" else f"metric:{key}"
        self.notify(f"x axis: {self.x_axis.removeprefix('metric:')}")
        self.x_range = self.cursor = None
        self.loading_charts = True
        self.reload()

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        self.draw_charts()

    def action_cycle_smoothing(self) -> None:
        self.smoothing = (self.smoothing + 1) % len(SMOOTHING)
        self.notify(f"smoothing {SMOOTHING[self.smoothing]}")
        self.draw_charts()

    def action_system(self) -> None:
        from .context_screens import SystemScreen

        self.app.push_screen(SystemScreen(self.root, self.run_key))

    def action_console(self) -> None:
        from .context_screens import ConsoleScreen

        self.app.push_screen(ConsoleScreen(self.root, self.run_key))

    def action_media(self) -> None:
        self.app.push_screen(MediaScreen(self.root, self.run_key))

    def action_copy_id(self) -> None:
        run_id = split_run_key(self.run_key)[2]
        self.app.copy_to_clipboard(run_id)
        self.notify(f"copied {run_id}")
