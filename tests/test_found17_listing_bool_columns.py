"""A boolean summary value is no metric column: the index's listing (store/catalog.py) and
the runs screen (tui/runs_data.py) counted it as numeric, a server's list (sync/remote.py)
did not, so a flag like `converged` could be a default column locally and never on a
server. One rule now serves all three (store/summary_columns.py `numeric_keys`)."""

from __future__ import annotations

from pathlib import Path

import flightlog
from flightlog.store.catalog import common_summary_keys
from flightlog.store.index import Index
from flightlog.store.layout import RunPaths
from flightlog.store.reader import StoredRun
from flightlog.sync.remote import common_keys as server_columns
from flightlog.tui.runs_data import common_keys as screen_columns

from .conftest import settled


def test_a_boolean_summary_is_a_default_column_nowhere(tmp_path: Path) -> None:
    keys = []
    for i in range(2):
        run = flightlog.init(project="p", dir=str(tmp_path), reinit=True)
        run.log({"loss": 1.0 / (i + 1), "converged": i == 1, "zz": 2.0})
        run.finish(quiet=True)
        keys.append(f"p/{run.id}")
    settled()
    summaries = {k: StoredRun.load_any(RunPaths.of_key(tmp_path, k)).summary for k in keys}
    assert {s["converged"] for s in summaries.values()} == {True, False}
    with Index(tmp_path) as idx:
        listed = common_summary_keys(idx, keys)
    assert listed == ["loss", "zz"]
    assert screen_columns(summaries, set()) == listed
    assert server_columns(list(summaries.values())) == listed
