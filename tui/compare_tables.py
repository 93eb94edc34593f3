"""The compare screen's tables: the config keys that differ between the runs, and their
summaries side by side with the best value of each in green.

Filled again on every live refresh (the runs train): the table is cleared and refilled
(tui/table_fill.py), the cursor kept on its row. Every stored value is shown escaped."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from flightlog.store.goals import best_value, goal_of
from flightlog.store.text import fmt, fmt_value

from .data import RunDetail
from .table_fill import fill_table


def fill_config_diff(
    table: DataTable[Any], details: list[RunDetail], names: dict[str, str]
) -> None:
    """The config keys whose values are not the same in every run."""
    keys = sorted({k for d in details for k in d.config})
    differ = [
        k for k in keys if len({json.dumps(d.config.get(k), sort_keys=True) for d in details}) > 1
    ]
    rows = [
        list(map(Text, [fmt(k), *[fmt_value(d.config.get(k)) for d in details]])) for k in differ
    ]
    if not differ:
        rows = [["(identical configs)", *[""] * len(details)]]
    fill_table(table, ["key", *map(Text, names.values())], rows)


def fill_summary(table: DataTable[Any], details: list[RunDetail], names: dict[str, str]) -> None:
    """Each summary key's values side by side, the best in green; the *better* column says
    which rule chose it (define_metric's goal, summary="min"/"max", else the name)."""
    keys = sorted({k for d in details for k in d.summary if not k.startswith("_")})
    definitions = [m for d in details for m in d.meta.get("metrics") or []]
    rows = []
    for k in keys:
        values = [d.summary.get(k) for d in details]
        goal = goal_of(k, definitions)
        best = best_value(values, goal)
        rows.append(
            [
                Text(fmt(k)),
                *[
                    Text(fmt(v), style="bold green" if best is not None and v == best else "")
                    for v in values
                ],
                Text(goal.label if goal else "-", style="dim"),
            ]
        )
    fill_table(table, ["key", *map(Text, names.values()), "better"], rows)
