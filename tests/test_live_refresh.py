"""The runs screen's refresh while runs train: what it skips must never make it wrong.

A whole-store catch-up remembers what it left in index.duckdb (store/catch_up.py's `Left`)
and the next one trusts it only while the file is as it left it; the screen's default
metric columns come from the summaries in hand (tui/runs_data.py's `common_keys`), not a
query of their own."""

from __future__ import annotations

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
from flightlog.store.index_tables import COLUMNS, write_rows
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
        blank = [None] * len(COLUMNS["runs"])
        runs = []
        for i, k in enumerate(keys):
            row = dict(zip(COLUMNS["runs"].names, blank, strict=True))
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
