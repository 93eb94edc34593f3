"""Line charts of downsampled metrics (textual-plotext), shared by the run and compare screens.

Each series comes from DuckDB already bucketed (tui/data.load_run): the line is the last
value of each bucket, smoothed on request, and the min/max envelope is drawn faintly under it
so a spike in a million-step run stays visible (one run per chart: overlaid runs show only
their lines). Log-y plots log10 of the values (plotext's
own log scale is unreliable).
"""

from __future__ import annotations

import math

from rich.text import Text
from textual_plotext import PlotextPlot

from flightlog.store.text import safe

COLORS = ["cyan", "yellow", "green", "magenta", "blue", "red", "white"]  # valid in plotext and rich
Series = dict[str, list[float]]  # x, last, min, max


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

    DEFAULT_CSS = """
    MetricChart { height: 14; min-width: 30; border: round $panel; }
    """

    def __init__(self, key: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.key = key
        self.border_title = Text(safe(key))  # a stored key: never markup
        self.draws = 0  # how many times data was drawn (tests and the benchmark wait on it)

    def draw(
        self,
        series: dict[str, Series],
        labels: dict[str, str],
        *,
        x_label: str = "step",
        log_y: bool = False,
        smoothing: float = 0.0,
    ) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        for i, (run_key, s) in enumerate(series.items()):
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
