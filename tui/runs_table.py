"""The runs table: an Arrow-backed, virtualised DataTable (textual-fastdatatable).

Only visible rows are rendered, so thousands of runs scroll smoothly. A refresh swaps the
Arrow data underneath and puts the cursor back on the run it was on, so live updates never
make it jump.

Built for 80 columns: the mark, state and name columns stay put while the rest scrolls
sideways, and the summary metrics come right after the name, before the columns that are
the same for most runs (tags, group, project). textual-fastdatatable has no public way to
swap its data, so `show()` resets the few private caches a new backend needs.
"""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
from rich.text import Text
from textual_fastdatatable import ArrowBackend, DataTable

from flightlog.store.text import fmt, fmt_duration, fmt_time, safe

from .data import STATE_ICON, RunList
from .table_redraw import redraw_changed

LEAD_COLUMNS = ["", "state", "name"]  # fixed while scrolling sideways
TAIL_COLUMNS = ["steps", "duration", "started", "tags", "group", "project", "id", "sync"]
BASE_COLUMNS = LEAD_COLUMNS + TAIL_COLUMNS
MAX_CELL = 24  # a long name or tag list is cut, so the metrics stay in view


def columns_of(metrics: list[str]) -> list[str]:
    """The table's columns in display order: lead, summary metrics, then the rest."""
    return [*LEAD_COLUMNS, *metrics, *TAIL_COLUMNS]


def sort_key(column: str, row: dict[str, Any], summary: dict[str, Any]) -> tuple[int, Any]:
    """Sort key for a column: (0, number), (1, text) or (2, 0) for a missing value. A
    summary column may hold numbers in some runs and text in others ("n/a"): the kind comes
    first, so that they never meet in a comparison (ordered_rows keeps numbers, then text,
    then missing values, whatever the direction)."""
    if column in ("started", ""):
        v: Any = row["created_at"]
    elif column in ("steps", "duration", "name", "id", "project", "group", "state", "sync"):
        v = row[column]
    elif column == "tags":
        v = ",".join(row["tags"] or [])
    else:
        v = summary.get(column)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return (2, 0)
    return (0, v) if isinstance(v, int | float) else (1, str(v).lower())


#: table columns the server sorts by a run field of the same name (store/filters.py)
SERVER_FIELDS = ("steps", "duration", "name", "id", "project", "group", "state")


def server_sort(column: str, desc: bool) -> str | None:
    """The server's `sort` for a table column (runs_api.py), or None for a column only the
    loaded rows can be sorted by (tags, sync)."""
    if column in ("started", ""):
        field = "created_at"
    elif column in SERVER_FIELDS:
        field = column
    elif column in ("tags", "sync"):
        return None
    else:
        field = f"summary.{column}"
    return f"-{field}" if desc else field


def build_table(runs: RunList, order: list[dict[str, Any]], marked: set[str]) -> pa.Table:
    names = columns_of(runs.metrics)
    rows: list[tuple[str, ...]] = []
    blank = ("",) * (len(names) - len(LEAD_COLUMNS))
    for r in order:
        if "header" in r:  # a group: "▼ name (n)", folded with "▶"
            head = "▶" if r["collapsed"] else "▼"
            rows.append((head, "", f"{safe(r['header'])} ({r['count']})", *blank))
        else:
            summary = runs.summaries.get(r["run_key"], {})
            rows.append(_cells(r, summary, runs.metrics, r["run_key"] in marked))
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return pa.table(
        {safe(k): pa.array(v, pa.string()) for k, v in zip(names, columns, strict=True)}
    )


#: a run's cells by what they show (its listing row's values, its summary's metrics, its
#: mark): a refresh while runs train formats their rows only, not the page's 500
_CELLS: dict[tuple[Any, ...], tuple[str, ...]] = {}


def _cells(
    r: dict[str, Any], summary: dict[str, Any], metrics: list[str], marked: bool
) -> tuple[str, ...]:
    """One run's cells, in columns_of(metrics)'s order."""
    key = (
        r["run_key"],
        marked,
        r["state"],
        r["warnings"],
        r["name"],
        r["id"],
        r["entity"],
        r["project"],
        r["group"],
        tuple(r["tags"] or ()),
        r["steps"],
        r["created_at"],
        r["duration"],
        r.get("sync"),
        tuple(metrics),
        # (with its type: 1, 1.0 and True are equal keys, and print differently)
        *((v, type(v)) for v in (summary.get(m) for m in metrics)),
    )
    try:
        return _CELLS[key]
    except KeyError:
        pass
    except TypeError:  # (a summary value that is a dict or a list: formatted every time)
        return _format(r, summary, metrics, marked)
    if len(_CELLS) > 4096:
        _CELLS.clear()
    out = _CELLS[key] = _format(r, summary, metrics, marked)
    return out


def _format(
    r: dict[str, Any], summary: dict[str, Any], metrics: list[str], marked: bool
) -> tuple[str, ...]:
    # a partial run's (steps not known) with no end runs to its last row: not known yet
    unknown = r["duration"] is None and r["steps"] is None
    return (
        "•" if marked else " ",
        STATE_ICON.get(r["state"], "?") + ("!" if r["warnings"] else ""),
        fmt(r["name"]),
        *(fmt(summary.get(m)) for m in metrics),
        "…" if r["steps"] is None else str(r["steps"]),  # not known yet
        "…" if unknown else fmt_duration(r["duration"]),
        fmt_time(r["created_at"]),
        fmt(r["tags"] or []),
        fmt(r["group"]),
        fmt(f"{r['entity']}/{r['project']}" if r["entity"] else r["project"]),
        fmt(r["id"]),
        r.get("sync") or "local",
    )


class RunsTable(DataTable):
    """DataTable whose whole content is replaced by `show()`. Cells are plain text (stored
    names are shown as typed, never read as markup)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            backend=ArrowBackend(pa.table({c: pa.array([], pa.string()) for c in BASE_COLUMNS})),
            cursor_type="row",
            show_row_labels=False,
            fixed_columns=len(LEAD_COLUMNS),
            max_column_content_width=MAX_CELL,
            zebra_stripes=True,
            render_markup=False,
            **kwargs,
        )

    def show(self, table: pa.Table, cursor_row: int) -> None:
        if not redraw_changed(self, table):  # (a refresh while runs train: their rows only)
            self.backend = ArrowBackend(table)
            # headers as typed: the table reads a str label as markup (`acc[top1]` showed
            # as `acc`, and a key holding `[/]` stopped the UI with a MarkupError)
            self._column_labels = [Text(name) for name in table.column_names]
            self._ordered_columns = None
            self._require_update_dimensions = True
            self._clear_caches()
            self.refresh(layout=True)
        if table.num_rows:
            self.move_cursor(row=min(max(cursor_row, 0), table.num_rows - 1), animate=False)
