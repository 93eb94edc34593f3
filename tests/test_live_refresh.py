"""The runs screen's refresh while runs train: what it skips must never make it wrong.

A whole-store catch-up remembers what it left in index.duckdb (store/catch_up.py's `Left`)
and the next one trusts it only while the file is as it left it; the screen's default
metric columns come from the summaries in hand (tui/runs_data.py's `common_keys`), not a
query of their own."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flightlog.store import catch_up
from flightlog.store.catalog import common_summary_keys, values_of
from flightlog.store.describe import _value_row
from flightlog.store.index import Index
from flightlog.store.index_tables import NAMES, write_rows
from flightlog.tui.runs_data import common_keys, load_runs

from .conftest import cli, spawn
from .test_index import _make_runs


def _listed(store: Path) -> list[str]:
    return sorted(r["id"] for r in load_runs(store, None, None).rows)


def test_a_run_another_process_indexed_is_listed_once(store: Path) -> None:
    """The screen's index remembers the stamps it wrote; `flightlog runs` in another
    process indexing a new run changes the file, so the next refresh reads the stamps
    again instead of describing that run a second time (two rows of one run)."""
    runs = _make_runs(2)
    assert _listed(store) == sorted(r.id for r in runs)
    late = _make_runs(1, project="late")
    out = cli("runs", "--json", "--root", str(store))  # indexes the new run itself
    assert out.returncode == 0, out.stderr
    assert _listed(store) == sorted(r.id for r in runs + late)
    with Index(store) as idx:
        assert idx.con.execute("SELECT count(*) FROM runs").fetchone()[0] == 3


def test_a_refresh_of_a_file_left_as_it_was_reads_no_stamps(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a run trains, each refresh lists it again; the stamps of the others are the
    ones the last refresh wrote, so they are not read back from the file."""
    _make_runs(2)
    proc = spawn(
        f"""
        import sys, flightlog
        run = flightlog.init(project="p", dir={str(store)!r})
        run.log({{"loss": 1.0}})
        print("logged", flush=True)
        sys.stdin.readline()
        run.log({{"loss": 0.5}})
        run.finish()
    """,
        stdin=subprocess.PIPE,
    )
    try:
        assert proc.stdout.readline().strip() == "logged"
        load_runs(store, None, None)
        reads: list[int] = []
        real = catch_up.read_stamps
        monkeypatch.setattr(catch_up, "read_stamps", lambda *a: reads.append(1) or real(*a))
        rows = load_runs(store, None, None).rows
        assert sorted(r["state"] for r in rows) == ["finished", "finished", "running"]
        assert reads == []
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(60) == 0
    finally:
        proc.kill()
        proc.communicate()
    deadline = time.monotonic() + 60  # its end shows at the next refresh
    while (live := [r for r in load_runs(store, None, None).rows if r["project"] == "p"]) and (
        {r["state"] for r in live} != {"finished"} or max(r["steps"] for r in live) < 2
    ):
        assert time.monotonic() < deadline, f"the finished run still shows as {live}"
        time.sleep(0.2)


VALUES = st.one_of(
    st.integers(-5, 5),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
SUMMARIES = st.lists(
    st.dictionaries(st.sampled_from(["a", "b", "_c", "d", "é", "B"]), VALUES, max_size=5),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(summaries=SUMMARIES, defined=st.lists(st.sampled_from(["a", "b", "d", "x"]), max_size=3))
def test_default_columns_from_the_summaries_in_hand_are_the_index_query_s(
    tmp_path: Path, summaries: list[dict], defined: list[str]
) -> None:
    """common_keys over the summaries read back equals catalog.common_summary_keys."""
    with Index(tmp_path / "none", persist=False) as idx:
        keys = [f"p/r{i}" for i in range(len(summaries))]
        blank = [None] * len(NAMES["runs"])
        runs = []
        for i, k in enumerate(keys):
            row = dict(zip(NAMES["runs"], blank, strict=True))
            row.update(run_key=k, defined_metrics=defined if i % 2 else [], tags=[])
            runs.append(tuple(row.values()))
        summary = [
            _value_row(k, key, v)
            for k, s in zip(keys, summaries, strict=True)
            for key, v in s.items()
        ]
        write_rows(idx.con, "main", {"runs": runs, "summary": summary})
        held = values_of(idx, "summary", keys)
        declared = set(defined) if len(keys) > 1 else set()  # (run 1, 3, ... declare them)
        for n in (1, 3):
            assert common_keys(held, declared, limit=n) == common_summary_keys(idx, keys, limit=n)


TRAINING = """
import sys, flightlog
run = flightlog.init(project="p", name="first", config={{"lr": 0.5}}, dir={store!r})
for line in sys.stdin:
    run.log({{"loss": 1.0}})
    print("logged", flush=True)
run.finish()
"""


def _step(proc: subprocess.Popen[str]) -> None:
    """One more row logged by the training run."""
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "logged"


def _wait_listing(store: Path, where: str, want: object, what: str) -> None:
    """Refresh until the runs matching `where` show as `want`: [(name, steps), ...]."""
    deadline = time.monotonic() + 60
    while (shown := [(r["name"], r["steps"]) for r in load_runs(store, where, None).rows]) != want:
        assert time.monotonic() < deadline, f"{what}: the listing shows {shown}"
        time.sleep(0.2)


def test_a_training_run_keeps_its_config_and_shows_a_new_run_json(store: Path) -> None:
    """A refresh sets a training run's state, steps and summary and keeps the run.json
    columns and config it already holds; a new run.json (a rename, a resume) is read."""
    proc = spawn(TRAINING.format(store=str(store)), stdin=subprocess.PIPE)
    try:
        _step(proc)
        _wait_listing(store, "config.lr = 0.5", [("first", 1)], "first look")
        for steps in (2, 3):  # described again: its config still answers the filter
            _step(proc)
            _wait_listing(store, "config.lr = 0.5", [("first", steps)], "while training")
        (run_dir,) = (d for d in (store / "runs" / "p").iterdir() if (d / "run.json").exists())
        meta = json.loads((run_dir / "run.json").read_text())
        tmp = run_dir / ".run.json.tmp"
        tmp.write_text(json.dumps({**meta, "name": "renamed", "config": {"lr": 0.25}}))
        os.replace(tmp, run_dir / "run.json")
        _wait_listing(store, "config.lr = 0.25", [("renamed", 3)], "after the new run.json")
        assert load_runs(store, "config.lr = 0.5", None).rows == []
    finally:
        proc.kill()
        proc.communicate()


def test_a_run_whose_description_failed_gets_its_config_once_it_works(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that could not be described is listed bare (with why); described again later
    with the same run.json, it gets its config rows too, not only its volatile columns."""
    from flightlog.store import describe

    proc = spawn(TRAINING.format(store=str(store)), stdin=subprocess.PIPE)
    try:
        _step(proc)

        def broken(*a: object, **k: object) -> None:
            raise RuntimeError("unreadable for this test")

        with monkeypatch.context() as m:
            m.setattr(describe, "describe_history", broken)
            (row,) = load_runs(store, None, None).rows
            assert "cannot index this run" in row["warnings"]
            assert load_runs(store, "config.lr = 0.5", None).rows == []
        _step(proc)  # (it trains: listed again at each refresh)
        _wait_listing(store, "config.lr = 0.5", [("first", 2)], "once it can be described")
    finally:
        proc.kill()
        proc.communicate()


async def test_a_refresh_draws_the_training_run_s_new_cells_and_keeps_the_rest(store: Path) -> None:
    """Each refresh while a run trains redraws only its row (tui/table_redraw.py): what the
    table draws is what a table drawn from scratch with the same data draws."""
    from flightlog.tui import FlightlogApp
    from flightlog.tui.runs_table import RunsTable

    from .tui_helpers import column, names, settle

    _make_runs(2)
    proc = spawn(TRAINING.format(store=str(store)), stdin=subprocess.PIPE)
    try:
        _step(proc)
        app = FlightlogApp(store)
        async with app.run_test(size=(160, 30)) as pilot:
            table = app.screen.query_one(RunsTable)

            def steps() -> str | None:
                return dict(zip(names(app), column(app, "steps"), strict=True)).get("first")

            await settle(pilot, lambda: steps() == "1")
            for n in (2, 3):
                _step(proc)
                await settle(pilot, lambda n=n: steps() == str(n))
                await pilot.pause(0.1)
                shown = [table.render_line(y).text for y in range(table.size.height)]
                table._clear_caches()  # the same data drawn from scratch
                fresh = [table.render_line(y).text for y in range(table.size.height)]
                assert shown == fresh
                assert any("first" in line and f" {n} " in line for line in shown)
    finally:
        proc.kill()
        proc.communicate()
