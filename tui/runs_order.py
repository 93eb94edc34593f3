"""The runs screen's rows in the order shown, its status line, and what it says in place of
an empty table, from a loaded listing.

Pure functions of the listing and the screen's choices (sort, grouping, folds, marks), so
the screen (tui/runs_screen.py) only keeps its cursor and widgets in step with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text

from flightlog.store.text import safe

from .data import plural
from .runs_data import RunList, Source
from .runs_table import server_sort, sort_key


def ordered_rows(
    runs: RunList, column: str, desc: bool, group_by: str | None, collapsed: set[str]
) -> list[dict[str, Any]]:
    """The runs sorted by `column` (numbers, then text, then missing values, whatever the
    direction: `sort_key`'s kinds), or in the order the index or server sorted them when
    that is the same sort; grouped by `group_by` under one header row a group ("header",
    "count", "collapsed"), the rows of a `collapsed` group left out."""

    def key(r: dict[str, Any]) -> tuple[int, Any]:
        return sort_key(column, r, runs.summaries.get(r["run_key"], {}))

    if runs.sorted_by and runs.sorted_by == server_sort(column, desc):
        ordered = list(runs.rows)  # the server's order, over every run it holds
    else:
        ordered = sorted(runs.rows, key=key, reverse=desc)
        ordered.sort(key=lambda r: key(r)[0])  # the kinds in their order, whatever the direction
    if not group_by:
        return ordered
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in ordered:
        groups.setdefault(r[group_by] or "(none)", []).append(r)
    out: list[dict[str, Any]] = []
    for name in sorted(groups):
        folded = name in collapsed
        out.append({"header": name, "count": len(groups[name]), "collapsed": folded})
        if not folded:
            out.extend(groups[name])
    return out


def status_text(
    runs: RunList,
    *,
    sort: tuple[str, bool],
    group_by: str | None,
    marked: int,
    note: str | None,
    checking: bool,
    where: str | None,
) -> str:
    """The status line: how many runs and in which states, the sort, grouping and marks,
    the sync agent's `note`, whether the files are being looked at (`checking`), and the
    filter last (a long one is what gets cut). Plain text, never markup: a filter's
    trailing backslash showed doubled."""
    states: dict[str, int] = {}
    for r in runs.rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
    parts = [plural(len(runs.rows), "run")]
    if runs.total is not None and runs.total > len(runs.rows):
        parts[0] = (
            f"first {len(runs.rows):,} of {runs.total:,} runs "
            "(L or the last row: more; filter to narrow)"
        )
    parts += [f"{n} {s}" for s, n in sorted(states.items())]
    column, desc = sort
    parts.append(f"sorted by {column or 'started'}{' ↓' if desc else ' ↑'}")
    if group_by:
        parts.append(f"grouped by {group_by}")
    if marked:
        parts.append(f"{marked} marked (c: compare)")
    if note:
        parts.append(note)
    if checking:
        parts.append("as last seen: looking for changes…")
    if where:  # last: the part a long note or filter may push out of sight
        parts.append(f"filter {safe(where)}")
    return " · ".join(parts)


EMPTY = (
    "No runs in {root} yet.",
    """ Log a first one in three lines:

    import flightlog
    run = flightlog.init(project="demo")
    run.log({"loss": 0.5}); run.finish()

then come back here (runs appear within 2 seconds), or open another store: flightlog tui DIR""",
)

GONE = (
    "{root} is not there any more.",
    """ Was it moved, deleted or unmounted?

Its runs show here again when it is back.""",
)


def empty_text(root: Path | Source, gone: bool) -> Text:
    """What the screen says in place of an empty table: how to log a first run, or that the
    store's directory is gone (a scratch purge, an unmounted filesystem: not a store with no
    runs yet). Text, not markup: a path such as `sweep[lr=0.1]` or `exp[1` is shown whole."""
    head, rest = GONE if gone else EMPTY
    return Text.assemble((head.format(root=safe(str(root))), "bold"), rest)
