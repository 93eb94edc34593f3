"""`flightlog.plot.line / scatter / bar / histogram`: wandb's preset charts over a Table.

The chart is stored as its table (Parquet) with a "chart" field naming the kind and the
columns it draws, so the data stays readable and a viewer can draw it.
"""

from __future__ import annotations

from typing import Any

from ._base import Media
from ._sink import MediaSink
from .table import Table


class Plot(Media):
    """A preset chart: a Table and what to draw from it."""

    _type = "table-file"

    def __init__(self, table: Table, chart: dict[str, Any]) -> None:
        self.table = table
        self.chart = chart
        self.problem = None
        if not isinstance(table, Table):
            self.problem = f"a plot needs a flightlog.Table, got {type(table).__name__}"
        else:
            missing = [c for c in chart.get("fields", []) if c not in table.columns]
            if missing:
                self.problem = f"the table has no column {missing[0]!r} (it has {table.columns})"
            else:
                self.problem = table.problem

    def snapshot(self) -> Media:
        return Plot(self.table.snapshot(), self.chart) if not self.problem else self

    def nbytes(self) -> int:
        return self.table.nbytes()

    def encode(self, sink: MediaSink) -> dict[str, Any]:
        return {**self.table.encode(sink), "chart": self.chart}


def _plot(kind: str, table: Table, title: str, **fields: str) -> Plot:
    return Plot(table, {"type": kind, "title": title, "fields": list(fields.values()), **fields})


def line(
    table: Table, x: str, y: str, stroke: str | None = None, title: str = "", **_: Any
) -> Plot:
    return _plot("line", table, title, x=x, y=y)


def scatter(table: Table, x: str, y: str, title: str = "", **_: Any) -> Plot:
    return _plot("scatter", table, title, x=x, y=y)


def bar(table: Table, label: str, value: str, title: str = "", **_: Any) -> Plot:
    return _plot("bar", table, title, label=label, value=value)


def histogram(table: Table, value: str, title: str = "", **_: Any) -> Plot:
    return _plot("histogram", table, title, value=value)
