"""A chart's x axis by its metric's step metric, as wandb's charts draw it:
`define_metric("val/*", step_metric="epoch")` puts epochs under `val/acc`, not steps.

The screen's step cursor, zoom and clicks stay in steps underneath (every chart shares them,
whatever its axis): a chart drawn against a step metric maps steps to the step metric's
value for drawing, and a column back to a step for clicks. The map is the step metric's own
curve in the curves in hand (at chart resolution), interpolated between its points; it needs
a step metric that never decreases (epochs, global steps, tokens). A metric whose step
metric decreases, is not numeric or was never logged stays by step.
"""

from __future__ import annotations

import fnmatch
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

Series = dict[str, list[float]]


def step_metric_of(key: str, definitions: Iterable[Any]) -> str | None:
    """The step metric define_metric() gave `key` (run.json's `metrics`): a definition of the
    exact name beats a glob, a later one an earlier one, as summaries are chosen."""
    found = [
        d
        for d in definitions
        if isinstance(d, dict)
        and isinstance(d.get("name"), str)
        and isinstance(d.get("step_metric"), str)
        and d["step_metric"]
        and d["step_metric"] != key
    ]
    for match in (lambda n: n == key, lambda n: fnmatch.fnmatchcase(key, n)):
        for d in reversed(found):
            if match(d["name"]):
                return d["step_metric"]
    return None


@dataclass(frozen=True)
class StepAxis:
    """Steps to a step metric's values and back, from its curve (x: steps, last: values)."""

    name: str
    steps: list[float]
    values: list[float]

    @classmethod
    def of(cls, name: str, curve: Series | None, whole: Series | None = None) -> StepAxis | None:
        """None when the curve is missing, empty or ever decreases (no map back to steps).
        `whole`: the step metric over the whole run, under a zoomed `curve` (which starts at
        its first point inside the range): the view's edges map between the points around
        them instead of clamping to the range's first and last."""
        if not curve:
            return None
        points = {
            s: v for c in (whole, curve) if c for s, v in zip(c["x"], c["last"], strict=False)
        }
        pairs = [(s, v) for s, v in sorted(points.items()) if v == v]
        steps, values = [float(p[0]) for p in pairs], [float(p[1]) for p in pairs]
        if not steps or any(b < a for a, b in pairwise(values)):
            return None
        return cls(name, steps, values)

    def to_x(self, step: float) -> float:
        """The step metric's value at `step` (clamped to its first and last)."""
        return _interpolate(self.steps, self.values, step, bisect_right)

    def to_step(self, x: float) -> float:
        """The first step at which the step metric reaches `x`."""
        return _interpolate(self.values, self.steps, x, bisect_left)

    def series(self, s: Series) -> Series:
        return {**s, "x": [self.to_x(x) for x in s["x"]]}


def _interpolate(xs: list[float], ys: list[float], at: float, bisect: Any) -> float:
    i = bisect(xs, at)
    if i <= 0:
        return ys[0]
    if i >= len(xs):
        return ys[-1]
    x0, x1 = xs[i - 1], xs[i]  # x0 <= at < x1 (bisect_right), x0 < at <= x1 (bisect_left)
    if at == x0:
        return ys[i - 1]
    return ys[i - 1] + (ys[i] - ys[i - 1]) * (at - x0) / (x1 - x0)


def chart_axes(
    keys: list[str],
    definitions: Iterable[Any],
    curves: dict[str, dict[str, Series]],
    main: str,
    whole: dict[str, dict[str, Series]] | None = None,
) -> dict[str, dict[str, StepAxis]]:
    """metric -> run_key -> its axis, for each charted metric with a step metric that the
    screen's run `main` logged growing (else that metric is charted by step). An overlaid
    run without the step metric's curve is mapped by `main`'s. `whole`: each run's curves
    over the whole run, when `curves` are a zoomed range's."""
    definitions = list(definitions)
    whole = whole or {}

    def axis(name: str, run: str) -> StepAxis | None:
        return StepAxis.of(name, curves.get(run, {}).get(name), whole.get(run, {}).get(name))

    out: dict[str, dict[str, StepAxis]] = {}
    for key in keys:
        name = step_metric_of(key, definitions)
        if name is None:
            continue
        own = axis(name, main)
        if own is None:
            continue
        out[key] = {run: axis(name, run) or own for run in curves}
        out[key][main] = own
    return out
