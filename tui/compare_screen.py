"""The compare screen: marked runs overlaid per metric, config differences, summaries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from flightlog.store.goals import best_value, goal_of
from flightlog.store.text import fmt, fmt_value

from .chart_view import CHART_BINDINGS, ChartView, XRange
from .charts import COLORS, ChartCard
from .data import Curves, RunDetail, load_curves, load_run
from .workers import StoreScreen, deliver, store_work

MAX_CHARTS = 8
BUCKETS = 200


class CompareScreen(ChartView, StoreScreen):
    BINDINGS: ClassVar = [Binding("escape,q", "app.pop_screen", "Back"), *CHART_BINDINGS]

    def __init__(self, root: Path, run_keys: list[str]) -> None:
        super().__init__()
        self.root = root
        self.run_keys = run_keys
        self.x_axis = "step"
        self.names: dict[str, str] = {}
        self.curves: dict[str, dict[str, Any]] = {}  # metric -> run_key -> series
        self.bounds: XRange | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static("", id="legend")
            yield Static("[b]config that differs[/b]")
            yield DataTable(id="config-diff", zebra_stripes=True)
            yield Static(
                "[b]summary[/b] (best in green; [i]better[/i]: define_metric, else the name)"
            )
            yield DataTable(id="summary", zebra_stripes=True)
            yield VerticalScroll(id="compare-charts")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @store_work("loading the runs to compare")
    def load(self) -> None:
        details = [load_run(self.root, k, buckets=BUCKETS) for k in self.run_keys]
        metrics = sorted({k for d in details for k in d.curves})[:MAX_CHARTS]
        curves = {
            m: {d.row["run_key"]: d.curves[m] for d in details if m in d.curves} for m in metrics
        }
        deliver(self, self.show, details, metrics, curves)

    async def show(
        self, details: list[RunDetail], metrics: list[str], curves: dict[str, Any]
    ) -> None:
        names = {d.row["run_key"]: fmt(d.row["name"]) for d in details}
        self.names, self.curves = names, curves
        spans = [d.x_bounds for d in details if d.x_bounds]
        self.bounds = (min(b[0] for b in spans), max(b[1] for b in spans)) if spans else None
        legend = Text()
        for i, d in enumerate(details):
            legend.append("━━ ", style=COLORS[i % len(COLORS)])
            legend.append(f"{fmt(d.row['name'])} ({fmt(d.row['id'])})  ")
        self.query_one("#legend", Static).update(legend)

        cfg = self.query_one("#config-diff", DataTable)
        cfg.add_columns("key", *map(Text, names.values()))
        keys = sorted({k for d in details for k in d.config})
        differ = [
            k
            for k in keys
            if len({json.dumps(d.config.get(k), sort_keys=True) for d in details}) > 1
        ]
        for k in differ:
            cfg.add_row(*map(Text, [fmt(k), *[fmt_value(d.config.get(k)) for d in details]]))
        if not differ:
            cfg.add_row("(identical configs)", *[""] * len(details))

        summ = self.query_one("#summary", DataTable)
        summ.add_columns("key", *map(Text, names.values()), "better")
        skeys = sorted({k for d in details for k in d.summary if not k.startswith("_")})
        definitions = [m for d in details for m in d.meta.get("metrics") or []]
        for k in skeys:
            values = [d.summary.get(k) for d in details]
            goal = goal_of(k, definitions)
            best = best_value(values, goal)
            summ.add_row(
                Text(fmt(k)),
                *[
                    Text(fmt(v), style="bold green" if best is not None and v == best else "")
                    for v in values
                ],
                Text(goal.label if goal else "-", style="dim"),
            )

        box = self.query_one("#compare-charts", VerticalScroll)
        await box.mount_all([ChartCard(m) for m in metrics])
        self.redraw()

    # -- the charts' cursor and zoom (ChartView) ----------------------------------------
    def chart_runs(self) -> list[str]:
        return [k for k in self.run_keys if k in self.names]

    def chart_labels(self) -> dict[str, str]:
        return self.names

    def plotted(self) -> dict[str, dict[str, Any]]:
        return self.curves

    def full_range(self) -> XRange | None:
        return self.bounds

    def redraw(self) -> None:
        for card in self.query(ChartCard):
            card.chart.draw(
                self.curves.get(card.key, {}),
                self.names,
                x_view=self.view(),
                zoomed=self.x_range is not None,
                cursor=self.cursor,
            )

    def requery(self) -> None:
        self.zoom_to(self.x_range)

    @store_work("zooming the charts", group="zoom")
    def zoom_to(self, x_range: XRange | None) -> None:
        """Every chart's runs re-downsampled over the new range, in one scan."""
        curves = load_curves(
            self.root, self.chart_runs(), list(self.curves), buckets=BUCKETS, x_range=x_range
        )
        deliver(self, self.show_zoomed, x_range, curves)

    def show_zoomed(self, x_range: XRange | None, by_run: dict[str, Curves]) -> None:
        if x_range != self.x_range:
            return  # a newer zoom is on its way
        self.curves = {
            m: {k: by_run[k][m] for k in self.chart_runs() if m in by_run.get(k, {})}
            for m in self.curves
        }
        self.redraw()
