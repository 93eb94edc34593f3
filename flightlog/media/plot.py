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


def plot_table(
    vega_spec_name: str,
    data_table: Table,
    fields: dict[str, str],
    string_fields: dict[str, Any] | None = None,
    split_table: bool = False,
) -> Plot:
    """wandb's custom chart: the table, the spec's name and which column fills each field."""
    chart = {"type": vega_spec_name, "fields": list(fields.values()), **fields}
    return Plot(data_table, {**chart, **(string_fields or {})})


def line_series(
    xs: Any,
    ys: Any,
    keys: list[str] | None = None,
    title: str = "",
    xname: str = "x",
    split_table: bool = False,
) -> Plot:
    """Several lines, one per `ys` item, over shared `xs` or one xs each (wandb's columns
    step, lineKey, lineVal)."""
    ys = [list(y) for y in ys]
    xs = list(xs)
    per_line = [list(x) for x in xs] if xs and _is_sequence(xs[0]) else [xs] * len(ys)
    keys = list(keys) if keys is not None else [f"key_{i}" for i in range(len(ys))]
    data = [
        [x, key, y]
        for key, line_x, line_y in zip(keys, per_line, ys, strict=False)
        for x, y in zip(line_x, line_y, strict=False)
    ]
    table = Table(columns=["step", "lineKey", "lineVal"], data=data)
    fields = {"step": "step", "lineKey": "lineKey", "lineVal": "lineVal"}
    return plot_table("line_series", table, fields, {"title": title, "xname": xname})


def confusion_matrix(
    probs: Any = None,
    y_true: Any = None,
    preds: Any = None,
    class_names: list[str] | None = None,
    title: str = "Confusion Matrix Curve",
    split_table: bool = False,
) -> Plot:
    """Counts of (actual, predicted) pairs, from `preds` or the argmax of `probs` (wandb's
    columns Actual, Predicted, nPredictions; classes Class_1.. unless named)."""
    from ._curves import confusion_counts

    table = Table(
        columns=["Actual", "Predicted", "nPredictions"],
        data=confusion_counts(probs, y_true, preds, class_names),
    )
    fields = {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"}
    return plot_table("confusion_matrix", table, fields, {"title": title})


def pr_curve(
    y_true: Any = None,
    y_probas: Any = None,
    labels: list[str] | None = None,
    classes_to_plot: list[Any] | None = None,
    interp_size: int = 21,
    title: str = "Precision-Recall Curve",
    split_table: bool = False,
) -> Plot:
    """Each class's precision against recall, one class against the rest (wandb's columns
    class, precision, recall; `interp_size` recall points)."""
    curve = ("pr", y_true, y_probas, labels, classes_to_plot, interp_size)
    return _curve_plot(curve, ["precision", "recall"], "recall", "precision", title)


def roc_curve(
    y_true: Any = None,
    y_probas: Any = None,
    labels: list[str] | None = None,
    classes_to_plot: list[Any] | None = None,
    title: str = "ROC Curve",
    split_table: bool = False,
) -> Plot:
    """Each class's true positive rate against its false positive rate, one class against
    the rest (wandb's columns class, fpr, tpr)."""
    curve = ("roc", y_true, y_probas, labels, classes_to_plot, 0)
    return _curve_plot(curve, ["fpr", "tpr"], "fpr", "tpr", title)


def _curve_plot(curve: tuple[Any, ...], columns: list[str], x: str, y: str, title: str) -> Plot:
    """The `curves(*curve)` rows as a table of "class" and `columns` (in the order of a row's
    numbers), drawn `y` against `x` per class."""
    from ._curves import curves

    table = Table(columns=["class", *columns], data=curves(*curve))
    fields = {"x": x, "y": y, "class": "class"}
    return plot_table(f"{curve[0]}_curve", table, fields, {"title": title})


def _is_sequence(value: Any) -> bool:
    return hasattr(value, "__len__") and not isinstance(value, str | bytes)
