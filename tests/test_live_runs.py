"""A live listing holds training runs' new descriptions in memory (store/live_runs.py):
what it skips writing must never make a listing, a filter, a sort or another reader wrong."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flightlog.store import live_runs
from flightlog.store.catalog import reads_live, select_runs
from flightlog.store.catch_up import _signature
from flightlog.store.index import INDEX_FILE, Index
from flightlog.tui.runs_data import load_runs

from .conftest import cli, spawn
from .test_index import _make_runs
from .test_live_refresh import TRAINING, _step

#: what the listing shows that a refresh may move on its own (a heartbeat: its last row's time)
_TICKING = ("last_time", "duration")


def _wait(store: Path, want: Any, what: str, where: str | None = None) -> list[dict[str, Any]]:
    """Refresh until the training run ("first") shows as `want`: (state, steps, loss)."""
    deadline = time.monotonic() + 60
    while True:
        runs = load_runs(store, where, None)
        (row,) = [r for r in runs.rows if r["name"] == "first"] or [None]
        shown = row and (row["state"], row["steps"], runs.summaries[row["run_key"]].get("loss"))
        if shown == want:
            return runs.rows
        assert time.monotonic() < deadline, f"{what}: the listing shows {shown}"
        time.sleep(0.2)


TRAINING_LOSS = TRAINING.replace(
    'run.log({{"loss": 1.0}})', 'run.log({{"loss": 1 / (run.step + 1)}})'
)


@pytest.fixture
def training(store: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Two finished runs and one training ("first"), which logs a row per `_step`; held
    back however long the test takes (a loaded machine)."""
    monkeypatch.setattr(live_runs, "LIVE_WRITE_SECONDS", 1e9)
    _make_runs(2)
    proc = spawn(TRAINING_LOSS.format(store=str(store)), stdin=subprocess.PIPE)
    try:
        _step(proc)
        _wait(store, ("running", 1, 1.0), "first look")
        yield proc
    finally:
        proc.kill()
        proc.wait() if proc.stdin.closed else proc.communicate()


def test_a_refresh_of_a_training_run_leaves_the_index_file_as_it_was(
    store: Path, training: subprocess.Popen[str]
) -> None:
    """Once written, a training run's new steps and summary are shown at each refresh
    without a write into index.duckdb (a DuckDB transaction every 2 s: ~40% of it). (A
    run whose directories go quiet for 2 s, as this one between steps on a loaded machine,
    gets its stamp rewritten once: the file may change then, the run's row may not.)"""
    _step(training)
    _wait(store, ("running", 2, 0.5), "second row")  # (written once, as it runs)
    before = _signature(store / INDEX_FILE)
    for steps in (3, 4):
        _step(training)
        _wait(store, ("running", steps, 1 / steps), "held back")
    if _signature(store / INDEX_FILE) != before:  # only a restamp may have written
        with duckdb.connect(str(store / INDEX_FILE), read_only=True) as con:
            written = con.execute("SELECT steps FROM runs WHERE name = 'first'").fetchall()
        assert written[0][0] <= 2, f"a training run's new steps were written: {written}"


def test_a_query_reading_what_training_changes_sees_the_latest(
    store: Path, training: subprocess.Popen[str]
) -> None:
    """A filter or order on steps or the summary, `flightlog runs` in another process and
    any other reader answer with the training run's latest rows, not the file's."""
    _step(training)
    _wait(store, ("running", 2, 0.5), "second row")
    _step(training)
    _wait(store, ("running", 3, 1 / 3), "held back")  # (the file holds 2 steps)
    _wait(store, ("running", 3, 1 / 3), "a filter on steps", where="steps >= 3")
    _wait(store, ("running", 3, 1 / 3), "a filter on the summary", where="summary.loss < 0.4")
    _step(training)
    _wait(store, ("running", 4, 0.25), "held back again")
    _wait(store, ("running", 4, 0.25), "a filter on the summary", where="summary.loss <= 0.25")
    _step(training)
    _wait(store, ("running", 5, 0.2), "held back again")
    out = cli("runs", "--where", "steps = 5", "--json", "--root", str(store))
    assert out.returncode == 0, out.stderr
    assert '"steps": 5' in out.stdout
    with Index(store) as idx:
        (row,) = select_runs(idx, where="steps = 5")
        assert row["name"] == "first"


def test_a_finished_or_killed_run_shows_its_final_state(
    store: Path, training: subprocess.Popen[str]
) -> None:
    """A run held back shows its final state and steps at the refresh after it ends, and
    the index file holds them too."""
    _step(training)
    _wait(store, ("running", 2, 0.5), "second row")
    _step(training)
    _wait(store, ("running", 3, 1 / 3), "held back")
    training.stdin.close()  # it finishes
    assert training.wait(60) == 0
    _wait(store, ("finished", 3, 1 / 3), "after finish()")
    with Index(store) as idx:
        (row,) = select_runs(idx, where="name = first")
        assert (row["state"], row["steps"]) == ("finished", 3)


def test_a_run_killed_while_held_back_shows_crashed(store: Path, monkeypatch: Any) -> None:
    """kill -9 of a training run held back: its state follows its process at the next
    refreshes (the index's survey), with its steps as logged."""
    monkeypatch.setattr(live_runs, "LIVE_WRITE_SECONDS", 1e9)
    proc = spawn(TRAINING_LOSS.format(store=str(store)), stdin=subprocess.PIPE)
    try:
        for steps in (1, 2, 3):
            _step(proc)
            _wait(store, ("running", steps, 1 / steps), "training")
    finally:
        proc.kill()
        proc.communicate()
    _wait(store, ("crashed", 3, 1 / 3), "after kill -9")


def test_the_live_listing_answers_as_a_fresh_index(
    store: Path, training: subprocess.Popen[str]
) -> None:
    """Every filter and order, answered while the training run is held back, lists what a
    reader that describes it afresh lists (the time of its last heartbeat aside). The run
    steps before each query: the fresh reader writes the file, and a listing then finds
    nothing new to hold back."""
    queries = [
        (None, None),
        (None, "-created_at"),
        ("state = running", None),
        ("config.lr < 2", "name"),
        ("tag:even", "-id"),
        ("steps > 2", None),
        (None, "-summary.loss"),
        (None, "-steps"),
    ]
    for steps, (where, sort) in enumerate(queries, 2):
        _step(training)
        _wait(store, ("running", steps, 1 / steps), "held back")
        live = load_runs(store, where, sort)
        with Index(store, lazy=True) as idx:  # (not live: describes and writes it)
            truth = select_runs(idx, where=where, sort=sort)
        shown = [{k: v for k, v in r.items() if k not in _TICKING} for r in live.rows]
        assert shown == [{k: v for k, v in r.items() if k not in _TICKING} for r in truth]


@pytest.mark.parametrize(
    ("where", "sort", "reads"),
    [
        (None, None, False),
        (None, "-created_at", False),
        ("state = running or tag:x", "name", False),
        ("config.lr > 0.1", "-config.lr", False),
        ("steps > 3", None, True),
        (None, "-duration", True),
        ("summary.loss < 1", None, True),
        (None, "summary.acc", True),
        ("duration > 10", "name", True),
    ],
)
def test_which_listings_read_what_training_changes(
    where: str | None, sort: str | None, reads: bool
) -> None:
    assert reads_live(where, sort) is reads
