"""What a catch-up costs the index file: a small change stays in DuckDB's write-ahead log
instead of being folded into the file (a checkpoint: tens of ms) on every read."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightlog.store.catalog import select_runs
from flightlog.store.index import INDEX_FILE, Index

from .conftest import cli
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
