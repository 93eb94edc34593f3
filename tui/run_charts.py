"""The run screen's charts: which metrics are charted (picked in the metric table, or every
one matching a regex), the runs drawn over them (the pinned one first), the x axis they are
plotted against, and drawing the grid from the curves in hand. A mixin of RunScreen
(tui/run_screen.py), over ChartView's zoom, cursor and legends."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from textual.containers import VerticalScroll
from textual.widgets import DataTable

from flightlog.store.text import safe

from .chart_pages import ChartPages
from .chart_view import SMOOTHING, ChartView, XRange
from .charts import ChartCard, MetricChart
from .data import Curves, RunDetail
from .step_axis import StepAxis, chart_axes, step_metric_of


class RunCharts(ChartPages, ChartView):
    """The chart grid of one run, with other runs overlaid."""

    run_key: str
    detail: RunDetail | None
    charted: list[str]  # metrics picked in the table, newest first
    regex: re.Pattern[str] | None  # else: every metric it matches is charted
    loading_charts: bool
    overlaid: tuple[str, ...]  # other runs drawn over the charts (runs pane)
    others: dict[str, Curves]  # their curves, over the view
    others_range: XRange | None  # their whole x extent
    whole: dict[str, Curves]  # every run's curves over the whole run (the last unzoomed load)

    def picked(self) -> list[str]:
        """The metrics the user asked for: every one matching the regex, else those picked
        in the table (more than a page of them are paged: tui/chart_pages.py)."""
        if self.detail is None:
            return []
        numeric = [s["key"] for s in self.detail.metrics if s["last"] is not None]
        if self.regex is not None:
            return [k for k in numeric if self.regex.search(k)]
        return self.charted

    def chart_keys(self) -> list[str]:
        return self.page_of(self.picked())

    def show_chart_status(self, drawn: int) -> None:
        """Say how many metrics are not drawn (of those matching the regex, if one is
        typed; else of the run's), and how to chart them."""
        if self.regex is not None:
            noun = f"metrics matching {safe(self.regex.pattern)}"
            self.show_status(drawn, len(self.picked()), noun, "/: another regex")
        elif self.detail is not None:
            numeric = sum(s["last"] is not None for s in self.detail.metrics)
            hint = "enter on a metric or / (a regex) charts it"
            self.show_status(drawn, numeric, "metrics", hint)

    def definitions(self) -> list[Any]:
        """The run's define_metric() records (run.json's `metrics`)."""
        found = self.detail.meta.get("metrics") if self.detail is not None else None
        return found if isinstance(found, list) else []

    def queried_keys(self) -> list[str]:
        """The charted metrics and the step metrics they are drawn against (a zoom reads
        both: a step metric's curve maps steps to its values)."""
        keys = self.chart_keys()
        if self.x_axis != "step":
            return keys
        wanted = [step_metric_of(k, self.definitions()) for k in keys]
        return list(dict.fromkeys([*keys, *(k for k in wanted if k is not None)]))

    def step_axes(self) -> dict[str, dict[str, StepAxis]]:
        """metric -> run -> the step metric it is drawn against (by step: none). The screen's
        x axis, once picked (`x`, `X`), draws every chart."""
        if self.detail is None or self.x_axis != "step":
            return {}
        by_run = {**self.others, self.run_key: self.detail.curves}
        return chart_axes(self.chart_keys(), self.definitions(), by_run, self.run_key, self.whole)

    def chart_runs(self) -> list[str]:
        """This run and the overlaid ones, the pinned run first."""
        keys = [self.run_key, *self.overlaid]
        if self.pinned in keys:
            keys.insert(0, self.pinned)
        return list(dict.fromkeys(keys))

    def plotted(self) -> dict[str, dict[str, Any]]:
        if self.detail is None:
            return {}
        by_run = {**self.others, self.run_key: self.detail.curves}
        runs = self.chart_runs()
        return {
            k: {r: by_run[r][k] for r in runs if k in by_run.get(r, {})}
            for k in self.chart_keys()
            if k in self.detail.curves
        }

    def full_range(self) -> XRange | None:
        spans = [s for s in (self.detail and self.detail.x_bounds, self.others_range) if s]
        return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None

    def redraw(self) -> None:
        """Charts from the curves loaded with the run (no query: toggles are instant)."""
        if self.detail is not None:
            keys = self.chart_keys()
            self.run_worker(  # the coroutine is made when the worker runs: a draw replaced
                # before it started (exclusive) leaves no coroutine that was never awaited
                partial(
                    self.show_charts, keys, self.plotted(), self.curves_range, self.step_axes()
                ),
                exclusive=True,
                group="charts",
                description="drawing the charts",
                exit_on_error=False,
            )

    async def show_charts(
        self,
        keys: list[str],
        curves: dict[str, Any],
        loaded: object,
        axes: dict[str, dict[str, StepAxis]],
    ) -> None:
        self.show_chart_status(len(keys))
        box = self.query_one("#charts", VerticalScroll)
        existing = {c.key: c for c in box.query(ChartCard)}
        # a draw cancelled by a newer one (exclusive workers) can leave cards half mounted
        if list(existing) != keys or not all(c.query(MetricChart) for c in existing.values()):
            await box.remove_children()
            await box.mount_all([ChartCard(k) for k in keys])
            existing = {c.key: c for c in box.query(ChartCard)}
            self.show_legends(self.readings or {})
            self.apply_grid()
        x_label = {"step": "step", "time": "time (s since epoch)"}.get(
            self.x_axis, self.x_axis.removeprefix("metric:")
        )
        for k in keys:
            existing[k].chart.draw(
                curves.get(k, {}),
                self.names,
                order=self.chart_runs(),
                x_label=x_label,
                log_y=self.log_y,
                smoothing=SMOOTHING[self.smoothing],
                x_view=self.view(),
                zoomed=self.x_range is not None,
                cursor=self.cursor,
                axes=axes.get(k),
                main=self.run_key,
            )
        self.drawn_range = loaded

    def charts_changed(self) -> None:
        """Other metrics charted: zoomed, their curves over the range are queried first."""
        if self.x_range is not None:
            self.requery()
        else:
            self.redraw()

    def action_toggle_metric(self) -> None:
        table = self.query_one("#metrics", DataTable)
        if self.detail is None or not self.detail.metrics:
            return
        key = self.detail.metrics[table.cursor_row]["key"]
        self.charted = (
            [k for k in self.charted if k != key] if key in self.charted else [key, *self.charted]
        )
        self.chart_page = 0  # a metric picked is charted first: on the first page
        self.charts_changed()

    def action_toggle_x(self) -> None:
        self.set_x_axis("time" if self.x_axis == "step" else "step")

    def action_x_metric(self, key: str | None = None) -> None:
        """Plot every chart against the metric under the cursor (e.g. epoch, tokens)."""
        if key is None:
            if self.detail is None or not self.detail.metrics:
                return
            key = self.detail.metrics[self.query_one("#metrics", DataTable).cursor_row]["key"]
        self.set_x_axis("step" if self.x_axis == f"metric:{key}" else f"metric:{key}")
        self.notify(f"x axis: {safe(self.x_axis.removeprefix('metric:'))}", markup=False)

    def set_x_axis(self, axis: str) -> None:
        """Plot by `axis` (remembered in the layout): the zoom and the cursor were in units
        of the old axis and go, and the curves are bucketed along the new one (one scan)."""
        self.x_axis = axis
        self.x_range = self.cursor = None
        self.save_layout()
        self.loading_charts = True
        self.reload()
