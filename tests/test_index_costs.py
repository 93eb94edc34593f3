"""What reading a store costs: a small change stays in DuckDB's write-ahead log instead of
being folded into the index file (a checkpoint: tens of ms) on every read, and the runs
screen's refresh of a store that did not change costs its stats, not an index read."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from flightlog.store.catalog import select_runs
from flightlog.store.index import INDEX_FILE, Index

from .conftest import cli, spawn
from .test_index import _make_runs


def _fingerprint(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def test_a_catch_up_of_one_new_run_leaves_the_file_and_keeps_its_log(store: Path) -> None:
    _make_runs(3)
    Index(store).close()
    before = _fingerprint(store / INDEX_FILE)
    _make_runs(1, project="late")
    with Index(store) as idx:
        assert idx.last.runs_indexed == 1
    assert _fingerprint(store / INDEX_FILE) == before  # no checkpoint on detach
    assert (store / (INDEX_FILE + ".wal")).stat().st_size > 0
    with Index(store) as idx:  # the log is replayed: the run is there, nothing re-read
        assert idx.last.runs_indexed == 0
        assert len(select_runs(idx)) == 4
    out = cli("runs", "--json", "--root", str(store))
    assert out.returncode == 0, out.stderr
    assert out.stdout.count('"id"') == 4


def test_a_log_grown_past_the_limit_is_folded_into_the_file(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flightlog.store import index

    _make_runs(2)
    monkeypatch.setattr(index, "WAL_KEEP", 0)
    Index(store).close()
    assert not (store / (INDEX_FILE + ".wal")).exists()
    with Index(store) as idx:
        assert len(select_runs(idx)) == 2


def _settle(store: Path) -> None:
    """Wait for the writers to seal their journals (finish() may leave that to its writer
    thread), then backdate every directory past the 2 s in which a stat may miss a change."""
    import os

    deadline = time.monotonic() + 60
    while list(store.rglob("*.journal")):
        assert time.monotonic() < deadline, "journals left unsealed"
        time.sleep(0.1)
    for d in [store, *(store / "runs").rglob("*")]:
        if d.is_dir():
            st = d.stat()
            os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns - 10**10))


def _counting_index(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from flightlog.tui import runs_data as data

    opened: list[int] = []

    class Counting(Index):
        def __init__(self, *a: object, **k: object) -> None:
            opened.append(1)
            super().__init__(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(data, "Index", Counting)
    return opened


def test_refreshing_an_unchanged_store_opens_no_index(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from flightlog.tui.data import load_runs

    runs = _make_runs(3)
    _settle(store)
    opened = _counting_index(monkeypatch)
    first = load_runs(store, None, None)
    assert len(first.rows) == 3 and len(opened) == 1
    assert load_runs(store, None, None) is first  # the refresh: stats only
    assert len(opened) == 1
    assert len(load_runs(store, "config.i > 0", None).rows) == 2  # another question: read
    assert len(opened) == 2
    _make_runs(1, project="late")  # a new run is seen at once
    assert len(load_runs(store, None, None).rows) == 4
    shutil.rmtree(runs[0].dir)  # and a deleted one
    assert {r["id"] for r in load_runs(store, None, None).rows} == {r.id for r in runs[1:]} | {
        r["id"] for r in load_runs(store, "project = 'late'", None).rows
    }


def test_a_running_run_is_read_again_on_each_refresh(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its state follows its process, which no stat of its files sees die."""
    from flightlog.tui.data import load_runs

    _make_runs(1)
    proc = spawn(
        f"""
        import sys, flightlog
        run = flightlog.init(project="p", dir={str(store)!r})
        run.log({{"loss": 1.0}})
        print("logged", flush=True)
        sys.stdin.read()
    """,
        stdin=subprocess.PIPE,
    )
    try:
        assert proc.stdout.readline().strip() == "logged"
        opened = _counting_index(monkeypatch)
        states = sorted(r["state"] for r in load_runs(store, None, None).rows)
        assert states == ["finished", "running"]
        load_runs(store, None, None)
        assert len(opened) == 2
    finally:
        proc.kill()
        proc.communicate()
    deadline = time.monotonic() + 60
    while "running" in {r["state"] for r in load_runs(store, None, None).rows}:
        assert time.monotonic() < deadline, "the killed run stayed running"
        time.sleep(0.2)
