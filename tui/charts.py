"""Line charts of downsampled metrics (textual-plotext), shared by the run and compare screens.

Each series comes from DuckDB already bucketed (tui/data.load_run): the line is the last
value of each bucket, smoothed on request, and the min/max envelope is drawn faintly under it
so a spike in a million-step run stays visible (one run per chart: overlaid runs show only
their lines). Log-y plots log10 of the values (plotext's
own log scale is unreliable).

A chart also carries the screen's step cursor (a highlighted column; the card's legend under the
chart reads the stored values there) and its x view (the zoomed range, fixed with xlim so that
a click maps back to an x). Clicks and the mouse wheel become messages the screen acts on.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static
from textual_plotext import PlotextPlot

from flightlog.store.text import safe

from .data import Reading
from .step_axis import StepAxis

COLORS = ["cyan", "yellow", "green", "magenta", "blue", "red", "white"]  # valid in plotext and rich
Series = dict[str, list[float]]  # x, last, min, max
CHART_MIN_WIDTH = 30  # columns: a chart grid keeps as many columns as fit at this width
CURSOR_STYLE = "on dark_red"  # a column under the braille: the points stay readable


def smooth(values: list[float], weight: float) -> list[float]:
    """Exponential moving average (TensorBoard's smoothing); NaN passes through."""
    if weight <= 0:
        return values
    out, last = [], None
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(v)
            continue
        last = v if last is None else last * weight + (1 - weight) * v
        out.append(last)
    return out


def _log(values: list[float]) -> list[float]:
    return [math.log10(v) if v is not None and v > 0 else math.nan for v in values]


class MetricChart(PlotextPlot):
    """One metric, one or more runs overlaid with a legend."""

    DEFAULT_CSS = f"""
    MetricChart {{ height: 14; min-width: {CHART_MIN_WIDTH}; border: round $panel; }}
    """

    @dataclass
    class Picked(Message):
        """A click on the chart: put the step cursor at x."""

        x: float

    @dataclass
    class Wheeled(Message):
        """The mouse wheel on the chart: zoom in (factor < 1) or out around x."""

        x: float
        factor: float

    def __init__(self, key: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.key = key
        self.border_title = Text(safe(key))  # a stored key: never markup
        self.draws = 0  # how many times data was drawn (tests and the benchmark wait on it)
        self.x_view: tuple[float, float] | None = None  # the x limits last drawn
        self.axis: StepAxis | None = None  # drawn against a step metric: steps map through it
        self._canvas = (0, 0)  # (first column, width) of the plot area, from the last render
        self._rows = (0, 0)  # its first and past-last rows
        self._built: tuple[object, Text] | None = None  # (what it was built from, picture)
        self.cursor: float | None = None
        self.painted_cursor: float | None = None  # the cursor of the last paint (benchmark)

    def render(self) -> Text:
        """plotext's picture, built again only when the data, size or theme changed (a
        cursor move costs no rebuild), with the step cursor overlaid as a column."""
        key = (self.draws, self.size, self.app.theme)
        if self._built is None or self._built[0] != key:
            out = super().render()
            assert isinstance(out, Text)
            self._rows = (0, 0)
            lines = out.plain.splitlines()
            for row, line in enumerate(lines):  # plotext frames the plot area: ┌───┐ └───┘
                if "┌" in line and "┐" in line:
                    start = line.index("┌") + 1
                    self._canvas = (start, line.index("┐", start) - start)
                    self._rows = (
                        row + 1,
                        next((r for r in range(row + 1, len(lines)) if "└" in lines[r]), row + 1),
                    )
                    break
            self._built = (key, out)
        self.painted_cursor = self.cursor
        return self._overlay(self._built[1])

    def _overlay(self, picture: Text) -> Text:
        col = self.column_of(self.cursor) if self.cursor is not None else None
        if col is None:
            return picture
        out = picture.copy()
        offset = 0
        for row, line in enumerate(out.plain.split("\n")):
            if self._rows[0] <= row < self._rows[1] and col < len(line):
                out.stylize(CURSOR_STYLE, offset + col, offset + col + 1)
            offset += len(line) + 1
        return out

    def column_of(self, x: float) -> int | None:
        """The widget column of step (or x) `x` on the plot area, None outside the view."""
        start, width = self._canvas
        if self.axis is not None:
            x = self.axis.to_x(x)
        if self.x_view is None or width <= 1 or not self.x_view[0] <= x <= self.x_view[1]:
            return None
        lo, hi = self.x_view
        return start + round((x - lo) / (hi - lo or 1) * (width - 1))

    def move_cursor(self, x: float | None) -> None:
        """The cursor to x (None: hidden): a repaint, no redraw of the data."""
        self.cursor = x
        self.refresh()

    def x_at(self, column: int) -> float | None:
        """The step (or x) under a column of the widget (None off the plot area or before a
        draw)."""
        start, width = self._canvas
        if self.x_view is None or width <= 1:
            return None
        lo, hi = self.x_view
        frac = min(max((column - start) / (width - 1), 0.0), 1.0)
        x = lo + frac * (hi - lo)
        return x if self.axis is None else self.axis.to_step(x)

    def on_click(self, event: events.Click) -> None:
        x = self.x_at(event.x)
        if x is not None:
            self.post_message(self.Picked(x))

    def _wheel(self, event: events.MouseEvent, factor: float) -> None:
        event.stop()  # the wheel zooms the chart instead of scrolling the pane
        event.prevent_default()
        x = self.x_at(event.x)
        if x is not None:
            self.post_message(self.Wheeled(x, factor))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._wheel(event, 0.5)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._wheel(event, 2.0)

    def draw(
        self,
        series: dict[str, Series],
        labels: dict[str, str],
        *,
        x_label: str = "step",
        log_y: bool = False,
        smoothing: float = 0.0,
        x_view: tuple[float, float] | None = None,
        zoomed: bool = False,
        cursor: float | None = None,
        order: list[str] | None = None,
        axes: dict[str, StepAxis] | None = None,
        main: str | None = None,
    ) -> None:
        """Plot `series`; `x_view` fixes the x limits (else the data's; `zoomed` says so in
        the border), `cursor` is the step cursor's x. `order` lists every run of the screen,
        so a run has the same colour on every chart (and its legend) even where another run
        has no values; the first (the pinned run) is drawn last, on top. `axes` (run key ->
        its step metric's axis, tui/step_axis.py) draws the chart against the step metric:
        x_view and cursor stay in steps and map through the axis of run `main`."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        self.axis = (axes or {}).get(main or "")
        if self.axis is not None and axes:
            series = {r: axes[r].series(s) if r in axes else s for r, s in series.items()}
            x_label = self.axis.name
            if x_view is not None:
                x_view = (self.axis.to_x(x_view[0]), self.axis.to_x(x_view[1]))
        self.border_subtitle = f"zoom {x_view[0]:g}–{x_view[1]:g}" if zoomed and x_view else ""
        xs_all = [x for s in series.values() for x in s["x"]]
        if x_view is None and xs_all:
            x_view = (min(xs_all), max(xs_all))
        self.x_view = x_view
        if x_view is not None and x_view[1] > x_view[0]:
            plt.xlim(*x_view)
        self.cursor = cursor
        order = order or list(series)
        ranked = sorted(series.items(), key=lambda kv: -order.index(kv[0]) if kv[0] in order else 0)
        for run_key, s in ranked:
            i = order.index(run_key) if run_key in order else len(order)
            color = COLORS[i % len(COLORS)]
            xs = s["x"]
            tr = _log if log_y else (lambda v: v)
            if len(series) == 1 and len(xs) > 1 and s["min"] != s["max"]:
                # the envelope in grey braille: plotext's "dot" marker drew stray `•`s
                plt.plot(xs, tr(s["min"]), color="gray", marker="braille")
                plt.plot(xs, tr(s["max"]), color="gray", marker="braille")
            plt.plot(
                xs,
                tr(smooth(s["last"], smoothing)),
                color=color,
                marker="braille",
                label=labels.get(run_key, run_key) if len(series) > 1 else None,
            )
        plt.xlabel(x_label)
        plt.ylabel(f"log10 {self.key}" if log_y else "")
        if not series:
            plt.title("no numeric values")
        self.draws += 1
        self.refresh()


def legend(
    readings: dict[str, Reading],
    labels: dict[str, str],
    runs: list[str],
    pinned: str | None = None,
) -> Text:
    """One line per run, in the chart's colors: its value, step and time at the cursor; with
    a pinned run (marked ★), every other run's difference to the pinned run's value."""
    out = Text(no_wrap=True, overflow="ellipsis")
    ref = readings.get(pinned) if pinned else None
    for i, run_key in enumerate(runs):
        r = readings.get(run_key)
        if i:
            out.append("\n")
        out.append("━━ ", style=COLORS[i % len(COLORS)])
        if len(runs) > 1:
            star = "★ " if run_key == pinned else ""
            out.append(star + safe(labels.get(run_key, run_key)) + " ")
        if r is None:
            out.append("no value", style="dim")
            continue
        out.append(f"{r.value:.6g}", style="bold")
        stamp = time.strftime("%H:%M:%S", time.localtime(r.time))
        out.append(f" @ step {r.step} · {stamp}", style="dim")
        if ref is not None and run_key != pinned:
            out.append(f" Δ {r.value - ref.value:+.4g}", style="italic")
    return out


class ChartCard(Vertical):
    """A chart and, under it, the legend of the step cursor."""

    DEFAULT_CSS = """
    ChartCard { height: auto; }
    ChartCard > .legend { height: auto; padding: 0 1; }
    ChartCard.fill > MetricChart { height: 1fr; min-height: 6; }
    """

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def compose(self) -> ComposeResult:
        yield MetricChart(self.key)
        yield Static("", classes="legend")

    @property
    def chart(self) -> MetricChart:
        return self.query_one(MetricChart)

    def show_legend(self, text: Text) -> None:
        self.query_one(".legend", Static).update(text)
