"""The runs screen's listing, as plain values: pages of runs from the store's index.

Called from Textual workers (threads), so nothing here touches widgets. `root` is a store's
directory, or a Source (tui/remote_source.py): a team server, whose listing is its own. A
store's listing opens its index as a listing (store/index.py's `lazy`): a first build of a
big store describes the runs shown and leaves the rest to `describe_more`, in the
background; `load_last_look` answers without a look at the files, for a first paint; a
refresh of a store whose stamps show no change (and no run running) shows its last listing
again (`load_runs`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flightlog.store.catalog import count_runs, needs_history, reads_live, select_runs
from flightlog.store.catch_up import BATCH
from flightlog.store.index import INDEX_FILE, Index
from flightlog.store.index_tables import Rows
from flightlog.store.live_runs import live_summary, patch_rows
from flightlog.store.scan import Stamp, unchanged_since
from flightlog.store.summary_columns import columns_of, numeric_keys


class Source:
    """Where the UI reads from when it is not a store's directory (tui/remote_source.py):
    each function below hands its call to the source's method of the same name."""


@dataclass
class RunList:
    """The runs screen's rows (already filtered and sorted) and its metric columns."""

    rows: list[dict[str, Any]]
    metrics: list[str]
    summaries: dict[str, dict[str, Any]]
    loaded_at: float = field(default_factory=time.time)
    #: runs matching, when `rows` is only the first pages of them (a server's listing)
    total: int | None = None
    #: the server sort `rows` already come in (a server's listing), None when unsorted
    sorted_by: str | None = None
    #: runs of the store whose segments are not described yet (`describe_more`)
    partial: int = 0

    def shows_the_same(self, other: RunList) -> bool:
        """Whether two listings show the same (the time each was loaded aside)."""
        fields = ("rows", "metrics", "summaries", "total", "sorted_by")
        return all(getattr(self, f) == getattr(other, f) for f in fields)


#: runs a listing loads at a time: what paints first, and all a store of 100,000 runs holds in
#: memory until the user scrolls past it (the same page as a server's, tui/remote_source.py)
PAGE = 500


def load_runs(
    root: Path | Source,
    where: str | None,
    sort: str | None,
    metrics: list[str] | None = None,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunList:
    """The first `limit` runs (at least one page, whole pages) matching `where`, in the
    order of `sort` (a catalog sort: run field, summary.KEY, config.KEY, `-` descending;
    None: by start). DuckDB filters and sorts, so the first page of a store of 10,000 runs
    holds its best runs and costs what a store of 500 does; `RunList.total` says how many
    match. A listing that holds every match says it is unsorted: the screen sorts it.
    `progress(done, total)` follows a first build of the store's index (it may raise to
    stop it: what was built is kept); that build describes the segments of the runs shown
    only (`RunList.partial`: how many it left for `describe_more`)."""
    if isinstance(root, Source):
        return root.load_runs(where, sort, metrics, limit)
    wanted = _whole_pages(limit)
    asked = (where, sort, tuple(metrics or ()), wanted)
    with _LAST_LOCK:
        last = _LAST.get(str(root))
    if last is not None and last[0] == asked and unchanged_since(root, last[1]):
        return last[2]  # the refresh of a store that did not change: its stats only
    live = not reads_live(where, sort)  # (training runs' new rows may stay in memory)
    with Index(root, progress=progress, lazy=True, live=live) as idx:
        runs = _listing(idx, where, sort, metrics, wanted)
        steady = idx.steady
    with _LAST_LOCK:
        if steady:
            _LAST[str(root)] = (asked, idx.stamps, runs)
        else:
            _LAST.pop(str(root), None)
    return runs


def load_last_look(
    root: Path | Source,
    where: str | None,
    sort: str | None,
    metrics: list[str] | None = None,
    limit: int | None = None,
) -> RunList | None:
    """`load_runs` as the store's index saw it last, without a look at the files: what a
    big store paints at once, before the stat pass of its catch-up (seconds at 10,000 runs
    on a cold disk) tells what changed since. None when there is no such listing (a
    server, or a store whose index was never built: its first build shows progress)."""
    if isinstance(root, Source) or not (root / INDEX_FILE).is_file():
        return None
    with Index(root, fresh=False, lazy=True) as idx:
        if not idx.total:  # (counted by the open's survey)
            return None
        if idx.partial and needs_history(sort, where=where):
            return None  # its answer needs every run described: the catch-up's turn
        return _listing(idx, where, sort, metrics, _whole_pages(limit), describe=False)


def describe_more(root: Path | Source, stop: Callable[[], bool] = lambda: False) -> int:
    """Describe the segments of up to a batch of the runs a first build left partial (in
    the background, after the listing showed), STEP runs at a time until `stop()` says
    the user asked for something; returns how many are left."""
    if isinstance(root, Source):
        return 0
    with Index(root, lazy=True, live=True) as idx:  # (it lists nothing)
        done = 0
        while done < BATCH and idx.partial and not stop():
            step = idx.complete(limit=min(STEP, BATCH - done))
            if not step:
                break
            done += step
        return idx.partial


#: runs `describe_more` describes between two looks at whether to stop (~0.1 s)
STEP = 100


def _whole_pages(limit: int | None) -> int:
    return max(1, -(-(limit or 0) // PAGE)) * PAGE


def _listing(
    idx: Index,
    where: str | None,
    sort: str | None,
    metrics: list[str] | None,
    wanted: int,
    describe: bool = True,
) -> RunList:
    """The listing's page(s); `describe=False`: partial runs' history fields not known."""
    rows = select_runs(idx, where=where, sort=sort, limit=wanted, describe=describe)
    held = idx.held_rows
    patch_rows(rows, held)  # (training runs as described now, not as the file holds them)
    total = len(rows) if len(rows) < wanted else count_runs(idx, where=where)
    keys = [r["run_key"] for r in rows]
    paged = total > len(rows)  # DuckDB sorted it: the screen cannot sort a part
    summaries, defined = _summaries(idx, keys, held)
    chosen = metrics if metrics else common_keys(summaries, defined, limit=3)
    sorted_by = sort if paged else None
    return RunList(rows, chosen, summaries, total=total, sorted_by=sorted_by, partial=idx.partial)


def common_keys(
    summaries: dict[str, dict[str, Any]], defined: set[str], limit: int = 3
) -> list[str]:
    """store/catalog.py's `common_summary_keys` of runs whose summaries (and metrics
    declared with define_metric, `defined`) are in hand: no statement more a refresh.
    Ranked as store/summary_columns.py says (declared, most runs', a loss or an eval
    metric before bookkeeping) among the numeric keys, not `_`-prefixed."""
    return columns_of(map(_numeric_keys, summaries.values()), defined, limit)


def _numeric_keys(summary: dict[str, Any]) -> tuple[str, ...]:
    """The numeric keys (not `_`-prefixed) of a summary, looked at once per summary read:
    a settled run's is the same object at every refresh (`_SUMMARIES`)."""
    hit = _NUMERIC.get(id(summary))
    if hit is not None and hit[0] is summary:
        return hit[1]
    keys = numeric_keys(summary)
    if len(_NUMERIC) > 4 * PAGE:
        _NUMERIC.clear()
    _NUMERIC[id(summary)] = (summary, keys)  # (held: its id is not reused meanwhile)
    return keys


#: id(a summary) -> (it, its numeric keys) (summaries are never changed once read)
_NUMERIC: dict[int, tuple[dict[str, Any], tuple[str, ...]]] = {}


def _summaries(
    idx: Index, keys: list[str], held: dict[str, Rows]
) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """values_of(summary) of `keys`, and the metrics their runs declared with define_metric,
    reading (in one statement) only those of runs whose stamp changed since the last listing
    (json of ~40 values a run: most of a refresh while runs train), and those of training
    runs the catch-up `held` back in memory from those rows."""
    root, kept, todo = str(idx.root), {}, []
    for k in keys:
        stamp, hit = idx.stamps.get(k), _SUMMARIES.get((root, k))
        if k in held:
            kept[k] = live_summary(held[k])
        elif stamp is not None and not stamp.open and hit is not None and hit[0] == stamp:
            kept[k] = hit[1:]
        else:
            todo.append(k)
    read = _read_summaries(idx, todo) if todo else {}
    if len(_SUMMARIES) > 4 * PAGE:
        _SUMMARIES.clear()
    for k, v in read.items():
        if (stamp := idx.stamps.get(k)) is not None and not stamp.open:
            _SUMMARIES[(root, k)] = (stamp, *v)
    got = {k: kept[k] if k in kept else read[k] for k in keys}
    return {k: v[0] for k, v in got.items()}, {m for v in got.values() for m in v[1]}


def _read_summaries(idx: Index, keys: list[str]) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """run -> (values_of(summary), the metrics it declared with define_metric)."""
    out: dict[str, tuple[dict[str, Any], list[str]]] = {k: ({}, []) for k in keys}
    with idx.con.cursor() as cur:
        rows = cur.execute(
            "SELECT run_key, key, json, NULL FROM summary WHERE run_key IN "
            "(SELECT unnest(?::VARCHAR[])) UNION ALL SELECT run_key, NULL, NULL, "
            "defined_metrics FROM runs WHERE run_key IN (SELECT unnest(?::VARCHAR[]))",
            [keys, keys],
        ).fetchall()
    for run_key, key, value, defined in rows:
        if key is not None:
            out[run_key][0][key] = json.loads(value)
        elif defined:
            out[run_key][1].extend(defined)
    return out


#: (store, run) -> (its stamp, its summary, its declared metrics) for settled runs: the
#: stamp tells it held still
_SUMMARIES: dict[tuple[str, str], tuple[Stamp, dict[str, Any], list[str]]] = {}


#: store -> (what was asked, the runs' stamps then, the answer): the last listing, which a
#: refresh of an unchanged store shows again after a stat pass instead of opening the
#: index and querying it (~5% of a core every 2 s at 1,000 runs)
_LAST: dict[str, tuple[tuple[Any, ...], dict[str, Stamp], RunList]] = {}
_LAST_LOCK = threading.Lock()
