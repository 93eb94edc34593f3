"""A writer killed with kill -9 records its summary at its heartbeat (about a second apart),
its rows at once (the journal): readers of the dead run saw the summary of the last beat,
behind the history's last row (`_step`, each key's last value, its min, max and mean).
Readers now fold the rows stored after the beat into it (store/summary_tail.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog
from flightlog._api_run import ApiRun
from flightlog.store import RunPaths, StoredRun
from flightlog.store.takeover import seal_abandoned

from .conftest import python_script

KILLED = """
import os, signal, time
import flightlog
from flightlog._api_run import ApiRun
run = flightlog.init(project="p", id="killed1")
run.define_metric("best", summary="max")
run.define_metric("avg", summary="mean")
run.define_metric("once", summary="first")
run.log({"loss": 1.0, "best": 1, "avg": 1.0, "fixed": 0})
run.summary["fixed"] = "by hand"
time.sleep(2.5)  # a heartbeat records this summary
for i in range(50):
    row = {"loss": 0.5 - i / 100, "best": i, "avg": 3.0, "note": f"row {i}"}
    run.log({**row, "once": i, "fixed": i})
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed(api: flightlog.Api) -> ApiRun:
    res = python_script(KILLED)
    assert res.returncode == -9, res.stderr
    run = api.run("p/killed1")
    assert run.state == "crashed"
    return run


def _caught_up(run: ApiRun) -> None:
    rows = list(run.scan_history())
    assert rows[-1]["_step"] == 50
    summary = dict(run.summary)
    assert summary["_step"] == 50, summary
    assert summary["_timestamp"] == pytest.approx(rows[-1]["_timestamp"])
    assert summary["loss"] == rows[-1]["loss"] == 0.5 - 49 / 100
    assert summary["note"] == "row 49"
    assert summary["best"] == 49
    assert summary["avg"] == pytest.approx((1.0 + 50 * 3.0) / 51)
    assert summary["once"] == 0
    assert summary["fixed"] == "by hand"


def test_a_killed_writers_summary_shows_the_historys_last_row(api: flightlog.Api) -> None:
    _caught_up(_killed(api))


def test_it_does_once_its_segments_and_journal_are_sealed(api: flightlog.Api, store: Path) -> None:
    _killed(api)
    paths = RunPaths(store / "runs" / "p" / "killed1")  # as sync, a resume or doctor --repair would
    stored = StoredRun.load(paths)
    assert stored is not None
    seal_abandoned(paths, stored.writers)
    files = [p for p in paths.history.iterdir() if not p.name.startswith(".")]  # not temp
    assert {p.suffix for p in files} == {".parquet"}
    _caught_up(api.run("p/killed1"))
