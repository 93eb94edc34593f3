"""Training runs' changing columns, held in memory between a live listing's refreshes.

While runs train, each refresh of the runs screen finds their files changed (a journal
grew, a state file was rewritten) and describes them again; writing those descriptions
into index.duckdb (a DuckDB write transaction, ~40% of a refresh) only to read them back
costs most of a live refresh. A listing whose filter and order read none of the columns
a training run changes (store/catalog.py's `reads_live`: its steps, values, times or
summary; the default order by start, a filter on state, name, tags or config) keeps a
training run's new description here instead, and patches the rows the index answers with
it (`patch_rows`, `live_summary`). The index is written as before when something a query
can read changes: a run whose state or run.json changed, which stopped being open (its
final state), which is new to the index, whose description is LIVE_WRITE_SECONDS old in
the file, or when the listing's query reads a live column.

The index file stays consistent on its own: a run held here keeps its last written rows,
files and stamp in the file, so any other reader (another process, or this one's other
screens) finds its files changed and describes it again. What is held is only valid for
the file as this process left it (store/catch_up.py's `Left`): any other write drops it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from .index_tables import NAMES, Rows
from .liveness import RUNNING
from .scan import Files, Stamp

#: seconds a training run's description may stay unwritten in the index file (what another
#: reader of the file re-describes meanwhile: a few runs' files)
LIVE_WRITE_SECONDS = 30.0

#: the `runs` columns a training run changes as it logs, as a listing names them
LIVE_COLUMNS = ("steps", "values", "last_time", "ended_at", "error", "warnings", "sync")
_AT = {c: NAMES["runs"].index(c) for c in (*LIVE_COLUMNS, "defined_metrics")}
_STATE = NAMES["runs"].index("state")
_PARTIAL = NAMES["runs"].index("partial")


@dataclass
class LiveRun:
    """A training run as this process last wrote it into the index file (its state there,
    when), and its newer description held back (`rows`: its tables' rows; None: the file
    holds its latest)."""

    state: str | None
    written: float
    rows: Rows | None = None


def hold_back(
    rows: Rows,
    live: dict[str, LiveRun],
    stamps: dict[str, Stamp],
    same_meta: set[str],
    now: float,
) -> set[str]:
    """Take out of `rows` (a batch described again, all tiers) the runs whose new
    description need not reach the file now, into `live`; returns their keys. A run is
    held back when this process wrote it last (`live`), still with the same state, it is
    still open, its run.json is the one the file holds (`same_meta`) and the file's rows
    are under LIVE_WRITE_SECONDS old."""
    held = set()
    for r in rows["runs"]:
        k = r[0]
        was = live.get(k)
        if (
            was is not None
            and was.state == r[_STATE] == RUNNING
            and k in same_meta
            and stamps[k].open
            and now - was.written < LIVE_WRITE_SECONDS
        ):
            held.add(k)
    if not held:
        return held
    mine: dict[str, Rows] = {k: {t: [] for t in rows} for k in held}
    for t, values in rows.items():
        if t == "segment_keys":  # (named by segment path: the run's segments' paths)
            continue
        kept_rows = []
        for row in values:
            if row[0] in held:
                mine[row[0]][t].append(row)
            else:
                kept_rows.append(row)
        rows[t] = kept_rows
    paths = {s[1]: s[0] for k in held for s in mine[k]["segments"]}
    rest = []
    for row in rows.get("segment_keys", ()):
        if row[0] in paths:
            mine[paths[row[0]]]["segment_keys"].append(row)
        else:
            rest.append(row)
    if "segment_keys" in rows:
        rows["segment_keys"] = rest
    for k in held:
        live[k].rows = mine[k]
    return held


def remember_written(
    live: dict[str, LiveRun], rows: Rows, stamps: dict[str, Stamp], now: float
) -> None:
    """After `rows` were written into the file: remember the runs that are running and open
    (the next refresh may hold them back), and forget the rest."""
    for r in rows["runs"]:
        k = r[0]
        if r[_STATE] == RUNNING and stamps[k].open and not r[_PARTIAL]:
            live[k] = LiveRun(r[_STATE], now)
        else:
            live.pop(k, None)


def held(live: dict[str, LiveRun]) -> dict[str, Rows]:
    """The runs whose latest description is held back: run -> its rows."""
    return {k: v.rows for k, v in live.items() if v.rows is not None}


def patch_rows(rows: list[dict[str, Any]], held_rows: dict[str, Rows]) -> None:
    """Listing rows (store/catalog.py's LIST_COLUMNS) of held-back runs, with their live
    columns and duration as described last."""
    now = time.time()
    for row in rows:
        mine = held_rows.get(row["run_key"])
        if mine is None or not mine["runs"]:
            continue
        run = mine["runs"][0]
        for c in LIVE_COLUMNS:
            row[c] = run[_AT[c]]
        if "duration" in row and row.get("created_at") is not None:
            ends = (row["ended_at"], row["last_time"], now)
            row["duration"] = next(e for e in ends if e is not None) - row["created_at"]


def live_summary(mine: Rows) -> tuple[dict[str, Any], list[str]]:
    """A held-back run's (summary as logged, metrics it declared with define_metric)."""
    summary = {key: json.loads(js) for _, key, _, _, js in mine["summary"]}
    run = mine["runs"][0] if mine["runs"] else None
    defined = list(run[_AT["defined_metrics"]] or []) if run else []
    return summary, defined


def files_of(live: dict[str, LiveRun], known: dict[str, Files]) -> dict[str, Files]:
    """The files the index file holds of the held-back runs (what the next catch-up
    compares their listing with: they are described again until written)."""
    return {k: known[k] for k, v in live.items() if v.rows is not None and k in known}
