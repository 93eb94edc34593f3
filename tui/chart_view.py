"""The step cursor and the zoom shared by every chart of a screen (run and compare screens).

The cursor is one x for the whole screen: each chart draws it as a vertical line and its legend
reads, for every run plotted, the stored value at the logged x nearest to it (a query, not the
bucket's min or max). Zoom and pan set one x range for every chart, and the screen re-queries
the store for that range (store.query.downsample's x_range), so a single-step spike hidden in a
bucket at full range comes back; the range is kept across live refreshes until reset. The
re-query reads the pyramids (store/pyramid_query.py), so it usually lands before a first
draw of the curves in hand would be worth its cost; if it is late, they are drawn meanwhile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.binding import Binding

from .charts import ChartCard, MetricChart, legend
from .data import Reading, read_cursor
from .workers import deliver, store_work

XRange = tuple[float, float]
SMOOTHING = (0.0, 0.6, 0.9)  # the weights m cycles through
WINDOW = 100  # the legend's query reads x within 1/100 of the view of the cursor first
# seconds a zoom waits for its re-query (the target) before drawing the curves in hand
FIRST_DRAW_WAIT = 0.2

CHART_BINDINGS: list[Binding] = [
    Binding("l", "toggle_log", "Log y", tooltip="log scale on y"),
    Binding("m", "cycle_smoothing", "Smooth", tooltip="smoothing 0, 0.6, 0.9"),
    Binding("comma", "cursor(-1)", "◂ cursor", tooltip="step cursor to the previous point"),
    Binding("full_stop", "cursor(1)", "cursor ▸", tooltip="step cursor to the next point"),
    Binding(
        "less_than_sign",
        "cursor(-10)",
        show=False,
        description="cursor -10",
        tooltip="step cursor 10 points back (click on a chart puts it there)",
    ),
    Binding(
        "greater_than_sign",
        "cursor(10)",
        show=False,
        description="cursor +10",
        tooltip="step cursor 10 points forward",
    ),
    Binding(
        "plus,equals_sign",
        "zoom(0.5)",
        "Zoom",
        tooltip="zoom in around the cursor (mouse wheel too)",
    ),
    Binding("minus", "zoom(2.0)", show=False, description="zoom out", tooltip="zoom out"),
    Binding(
        "left_square_bracket",
        "pan(-1)",
        show=False,
        description="pan left",
        tooltip="pan left a quarter",
    ),
    Binding(
        "right_square_bracket",
        "pan(1)",
        show=False,
        description="pan right",
        tooltip="pan right a quarter",
    ),
    Binding(
        "0",
        "reset_zoom",
        show=False,
        description="reset zoom",
        tooltip="whole run again, cursor off",
    ),
]


def cursor_time(
    readings: dict[str, dict[str, Reading]], run_key: str, at: float | None
) -> float | None:
    """The wall time of run `run_key` at the step cursor: the time of its logged x nearest
    the cursor, among the values the legends read (None: no cursor or no reading)."""
    own = [per_run[run_key] for per_run in readings.values() if run_key in per_run]
    if at is None or not own:
        return None
    return min(own, key=lambda r: (abs(r.x - at), r.step)).time


class ChartView:
    """Mixed into a StoreScreen that shows ChartCards (its BINDINGS must include
    CHART_BINDINGS: Textual only merges bindings of DOM classes). The screen provides `root`,
    `x_axis`, `names` (run key -> label), `chart_runs()` (run keys plotted), `plotted()`
    (metric -> run_key -> series on screen), `full_range()`, `redraw()` and `requery()`
    (reload curves for `self.x_range`, then redraw); the Workspace mixin provides
    `save_layout()`, the ContextLoads mixin `follow_time()` (the system pane follows the
    cursor)."""

    root: Path
    x_axis: str
    log_y: bool
    smoothing: int  # index into SMOOTHING
    cursor: float | None = None
    x_range: XRange | None = None
    readings: dict[str, dict[str, Reading]] | None = None
    names: dict[str, str]  # run key -> the label its legend lines show
    pinned: str | None = None  # the reference run: drawn first, the legend's deltas are to it
    curves_range: XRange | None = None  # the x range the curves in hand were queried for
    drawn_range: object = ()  # the curves_range last drawn (() before the first draw)

    # -- provided by the screen ----------------------------------------------------------
    def chart_runs(self) -> list[str]:
        raise NotImplementedError

    def plotted(self) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    def full_range(self) -> XRange | None:
        raise NotImplementedError

    def requery(self) -> None:
        raise NotImplementedError

    def redraw(self) -> None:
        raise NotImplementedError

    def cursor_moved(self, x: float | None) -> None:
        """Panes that follow the step cursor (the media panes) get its step."""
        if x is None or self.x_axis != "step":
            return
        for pane in self.PANES:  # type: ignore[attr-defined]  # a Workspace's registry
            widget = self.query_one(f"#{pane.name}")  # type: ignore[attr-defined]
            show_step = getattr(widget, "show_step", None)
            if widget.display and callable(show_step):
                show_step(round(x))

    # -- cursor --------------------------------------------------------------------------
    def points(self) -> list[float]:
        """Every x drawn on the screen's charts, sorted: where the cursor can stop."""
        xs = {x for per_run in self.plotted().values() for s in per_run.values() for x in s["x"]}
        return sorted(xs)

    def action_cursor(self, delta: int) -> None:
        pts = self.points()
        if not pts:
            return
        if self.cursor is None:
            i = len(pts) - 1 if delta < 0 else 0
        else:
            nearest = min(range(len(pts)), key=lambda j: abs(pts[j] - self.cursor))
            i = min(max(nearest + delta, 0), len(pts) - 1)
        self.set_cursor(pts[i])

    def set_cursor(self, x: float | None) -> None:
        self.cursor = x
        for card in self.query(ChartCard):  # type: ignore[attr-defined]
            card.chart.move_cursor(x)  # a repaint now; the legend follows the query
        self.cursor_moved(x)
        self.call_after_refresh(self.read_legend)  # type: ignore[attr-defined]  # repaint first

    @store_work("reading the values at the cursor", group="cursor")
    def read_legend(self) -> None:
        at, runs, keys, view = self.cursor, self.chart_runs(), list(self.plotted()), self.view()
        window = (view[1] - view[0]) / WINDOW if view else None
        readings = (
            {}
            if at is None or not keys
            else read_cursor(self.root, runs, keys, at, x=self.x_axis, window=window)
        )
        deliver(self, self.show_legends, readings)  # type: ignore[arg-type]

    def show_legends(self, readings: dict[str, dict[str, Reading]]) -> None:
        self.readings = readings
        runs = self.chart_runs()
        for card in self.query(ChartCard):  # type: ignore[attr-defined]
            if self.cursor is None:
                card.show_legend("")
            else:
                card.show_legend(legend(readings.get(card.key, {}), self.names, runs, self.pinned))
        # the system pane's cursor at the wall time of each run's step there
        self.follow_time(lambda k: cursor_time(readings, k, self.cursor))  # type: ignore[attr-defined]

    def on_metric_chart_picked(self, event: MetricChart.Picked) -> None:
        pts = self.points()
        self.set_cursor(min(pts, key=lambda p: abs(p - event.x)) if pts else event.x)

    # -- y axis ---------------------------------------------------------------------------
    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        self.save_layout()
        self.redraw()

    def action_cycle_smoothing(self) -> None:
        self.smoothing = (self.smoothing + 1) % len(SMOOTHING)
        self.save_layout()
        self.notify(f"smoothing {SMOOTHING[self.smoothing]}")  # type: ignore[attr-defined]
        self.redraw()

    # -- zoom ----------------------------------------------------------------------------
    def view(self) -> XRange | None:
        return self.x_range or self.full_range()

    def set_range(self, lo: float, hi: float) -> None:
        full = self.full_range()
        wanted: XRange | None = (lo, hi)
        if full is not None:
            span = min(hi - lo, full[1] - full[0])
            lo = min(max(lo, full[0]), full[1] - span)
            hi = lo + span
            wanted = None if lo <= full[0] and hi >= full[1] else (lo, hi)  # all of it
        self.x_range = wanted
        self.requery()  # from the pyramids: drawn once, when it lands (usually well in time)
        self.set_timer(FIRST_DRAW_WAIT, self.draw_in_hand)  # type: ignore[attr-defined]

    def draw_in_hand(self) -> None:
        """A re-query that is late: the curves in hand over the new range meanwhile (a draw
        costs ~50-150 ms on a busy machine, so drawing twice would double a quick zoom)."""
        if self.drawn_range != self.x_range:
            self.redraw()

    def zoom_around(self, center: float, factor: float) -> None:
        view = self.view()
        if view is None:
            return
        lo, hi = view
        if factor < 1 and self.x_axis == "step" and hi - lo <= 8:
            return  # a few steps across: nothing finer to see
        span = max((hi - lo) * factor, 1e-9)
        frac = (center - lo) / (hi - lo) if hi > lo else 0.5
        self.set_range(center - frac * span, center + (1 - frac) * span)

    def action_zoom(self, factor: float) -> None:
        view = self.view()
        if view is not None:
            center = self.cursor if self.cursor is not None else (view[0] + view[1]) / 2
            self.zoom_around(center, factor)

    def on_metric_chart_wheeled(self, event: MetricChart.Wheeled) -> None:
        self.zoom_around(event.x, event.factor)

    def action_pan(self, direction: int) -> None:
        view = self.view()
        if view is not None and self.x_range is not None:
            shift = (view[1] - view[0]) / 4 * direction
            self.set_range(view[0] + shift, view[1] + shift)

    def action_reset_zoom(self) -> None:
        self.x_range = None
        self.cursor = None
        self.requery()
        self.show_legends({})
