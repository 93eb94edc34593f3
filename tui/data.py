"""What the UI reads, as plain values: each call opens the index, queries it and closes it.

Called from Textual workers (threads), so nothing here touches widgets, and no DuckDB
connection is shared between threads. Opening the index is its catch-up: on the 1,000-run
benchmark store it costs ~50 ms when nothing changed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from flightlog.store.catalog import common_summary_keys, select_runs, values_of
from flightlog.store.index import Index
from flightlog.store.query import downsample, metric_stats

STATE_ICON = {"running": "●", "finished": "✓", "failed": "✗", "crashed": "☠"}


@dataclass
class RunList:
    """The runs screen's rows (already filtered and sorted) and its metric columns."""

    rows: list[dict[str, Any]]
    metrics: list[str]
    summaries: dict[str, dict[str, Any]]
    loaded_at: float = field(default_factory=time.time)


def load_runs(
    root: Path, where: str | None, sort: str | None, metrics: list[str] | None = None
) -> RunList:
    with Index(root) as idx:
        rows = select_runs(idx, where=where, sort=sort)
        keys = [r["run_key"] for r in rows]
        chosen = metrics if metrics else common_summary_keys(idx, keys, limit=3)
        return RunList(rows, chosen, values_of(idx, "summary", keys))


@dataclass
class RunDetail:
    row: dict[str, Any]
    meta: dict[str, Any]
    config: dict[str, Any]
    summary: dict[str, Any]
    metrics: list[dict[str, Any]]  # key, n, last, min, max


def load_run(root: Path, run_key: str) -> RunDetail:
    with Index(root) as idx:
        row = select_runs(
            idx,
            where=f"project = {_q(run_key.split('/')[0])} and id = {_q(run_key.split('/', 1)[1])}",
        )[0]
        meta = json.loads(
            idx.con.execute("SELECT meta FROM runs WHERE run_key = ?", [run_key]).fetchone()[0]
        )
        return RunDetail(
            row,
            meta,
            values_of(idx, "config", [run_key])[run_key],
            values_of(idx, "summary", [run_key])[run_key],
            metric_stats(idx, run_key).to_pylist(),
        )


def load_curves(
    root: Path, run_keys: list[str], key: str, buckets: int = 400, x: str = "step"
) -> dict[str, dict[str, list[float]]]:
    """run_key -> {"x", "last", "min", "max"} of one metric, downsampled in DuckDB."""
    with Index(root) as idx:
        table: pa.Table = downsample(idx, run_keys, key, buckets=buckets, x=x)
    out: dict[str, dict[str, list[float]]] = {}
    for rec in table.to_pylist():
        c = out.setdefault(rec["run_key"], {"x": [], "last": [], "min": [], "max": []})
        c["x"].append(rec["x_last"])
        c["last"].append(rec["vlast"])
        c["min"].append(rec["vmin"])
        c["max"].append(rec["vmax"])
    return out


def _q(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"
