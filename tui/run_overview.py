"""What the run screen's overview, metric table and config panes say: from a RunDetail to
markup, table rows and a tree.

Every stored value is escaped on the way (a run name or a config value is never markup nor a
terminal code)."""

from __future__ import annotations

import time
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable, Tree

from flightlog.store.text import MIN_CUT, fmt, fmt_value, metric_cells, middle_cut, safe

from .data import STATE_ICON, RunDetail, plural
from .table_fill import fill_table

METRIC_COLUMNS = ("metric", "last", "min", "max", "n", "")
#: cells a metric name may take before the table has a width
NAME_ROOM = 40


def overview(d: RunDetail) -> Text:
    """The overview pane: name, state, group, tags, start, git, command, errors. Built as a
    Text, never markup: Textual's markup escape leaves `x[1` or a trailing backslash as they
    are, and they then took the closing tag of the bold name (`[/b]` shown, the rest of the
    line swallowed)."""
    m = d.meta
    r = {k: fmt(v) for k, v in d.row.items()}  # stored text: control characters escaped
    git = {k: fmt(v) for k, v in (m.get("git") or {}).items()}
    out = Text.assemble(
        (r["name"], "bold"),
        f" ({r['id']}) · {r['project']} · {STATE_ICON.get(d.row['state'], '')} {r['state']}\n",
        f"group {r['group'] or '-'} · job {r['job_type'] or '-'} · tags {r['tags'] or '-'}\n",
        f"started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(d.row['created_at']))} "
        f"on {r['host']} · {plural(d.row['steps'] or 0, 'step')}",
    )
    if git:
        out.append(f"\ngit {git.get('commit', '')[:12]}")
        if m["git"].get("dirty"):
            out.append(" (dirty)", "bold yellow")
        out.append(f" {git.get('branch') or ''}")
    out.append("\n$ " + " ".join(fmt(a) for a in m.get("command") or []))
    extra = {
        k: v
        for k, v in d.summary.items()
        if not k.startswith("_") and k not in {s["key"] for s in d.metrics}
    }
    if extra:  # summary values set directly (run.summary[k] = v), not in the history
        out.append("\nsummary " + ", ".join(f"{fmt(k)}={fmt(v)}" for k, v in extra.items()))
    if d.row["error"]:
        out.append("\n" + fmt(d.row["error"].strip().splitlines()[-1]), "red")
    if r["warnings"]:
        out.append(f"\n! {r['warnings']}", "yellow")
    return out


def fill_config_tree(tree: Tree[Any], config: dict[str, Any]) -> None:
    """The config's dotted keys back into a tree, every node expanded."""
    tree.clear()
    nested: dict[str, Any] = {}
    for key, value in config.items():  # dotted keys back into a tree
        node = nested
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value

    def add(parent: Any, d: dict[str, Any]) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                add(parent.add(Text(safe(k)), expand=True), v)
            else:
                parent.add_leaf(Text(f"{safe(k)} = {fmt_value(v)}"))

    add(tree.root, nested)
    tree.root.expand()


def fill_metric_table(table: DataTable[Any], stats: list[dict[str, Any]], narrow: bool) -> None:
    """The metric table, whole at any width: when `narrow` the sparkline column goes (the
    charts show the curve), so names and counts fit; a name too long to leave the values
    room on the table's width (a 300-character key) is cut in its middle, as the leaf name
    at its end tells metrics apart. The cursor stays on its row."""
    columns = METRIC_COLUMNS[:-1] if narrow else METRIC_COLUMNS
    cells = [metric_cells(st)[: len(columns)] for st in stats]
    values = sum(  # the value columns' widths, each with its cell padding
        max([len(h), *(cell_len(c[i]) for c in cells)]) + 2 for i, h in enumerate(columns) if i
    )
    width = table.size.width - table.scrollbar_size_vertical
    room = max(width - values - 2 if width > 0 else NAME_ROOM, MIN_CUT)
    for c in cells:
        c[0] = middle_cut(c[0], room, cell_len)
    rows = [list(map(Text, c)) for c in cells]
    fill_table(table, columns, rows, keys=[st["key"] for st in stats])
