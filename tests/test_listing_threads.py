"""A first build on a cold disk reads its runs several at a time (store/fan_out.py): what it
indexes must be what a build reading one run after another indexes, odd runs included, and
an interrupted build keeps its committed runs and leaves no reading thread behind."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

import flightlog
from flightlog.store import catch_up, fan_out, two_threads
from flightlog.store.index import INDEX_FILE, Index
from flightlog.store.layout import CREATE_WAIT

from .conftest import settled

RUNS = 30
#: the read pool's threads' names (ThreadPoolExecutor: prefix_n); not the process-lifetime
#: helper of a large read (store/two_threads.py), "flightlog-read-helper"
POOL = "flightlog-read_"
#: (stamps: their directories' mtimes; whether a directory had settled depends on the clock)
TABLES = {
    "runs": "*",
    "config": "*",
    "summary": "*",
    "files": "*",
    "segments": "*",
    "segment_keys": "*",
    "stamps": "run_key, run_dir, writers_dir, history_dir",
}


@pytest.fixture
def odd_store(store: Path) -> Path:
    """Runs of different lengths, groups, configs and states, and odd ones: an unreadable
    run.json, a run.json holding a list, one with no run.json (its data kept), one empty."""
    for i in range(RUNS):
        run = flightlog.init(
            project=f"p{i % 3}",
            group=f"g{i % 4}",
            config={"lr": 10.0 ** -(i % 5), "i": i, "opt": {"name": "adam", "b": [0.9, 0.99]}},
            reinit=True,
            tags=["even" if i % 2 == 0 else "odd"],
        )
        for s in range(2 + (i * 7) % 9):
            run.log({"loss": (i + 1) / (s + 1), "acc": s / 10})
        run.finish(exit_code=1 if i == 5 else 0, quiet=True)
    settled()  # the runs' last rows sealed
    runs = sorted(p for p in (store / "runs").glob("p*/*") if p.is_dir())
    (runs[0] / "run.json").write_text("{not json")
    (runs[1] / "run.json").write_text(json.dumps([1, 2]))
    (runs[2] / "run.json").unlink()
    lost = time.time() - 2 * CREATE_WAIT  # lost long ago: younger, it is a run being created
    for d in (runs[2], runs[2] / "writers", runs[2] / "history"):
        os.utime(d, (lost, lost))
    shutil.rmtree(runs[3] / "history")
    (runs[3] / "writers").mkdir(exist_ok=True)
    return store


def _tables(root: Path) -> dict[str, list[tuple]]:
    """Every row of the index's tables, in one order."""
    with Index(root, fresh=False) as idx:
        return {
            t: sorted(map(repr, idx.con.execute(f"SELECT {cols} FROM {t}").fetchall()))
            for t, cols in TABLES.items()
        }


def _build(root: Path, monkeypatch: pytest.MonkeyPatch, slow: float) -> dict[str, list[tuple]]:
    """A listing's first build (first tier for every run: the runs it leaves as stubs, as
    a filter reads them; then every run described) whose reads count as waiting for the
    disk when they wait longer than `slow` (-1: always, as on a cold disk; 1e9: never); the
    index's tables after each tier."""
    for name in (INDEX_FILE, INDEX_FILE + ".wal"):
        (root / name).unlink(missing_ok=True)
    monkeypatch.setattr(fan_out, "OVER", 2)
    monkeypatch.setattr(fan_out, "SLOW", slow)
    monkeypatch.setattr(fan_out, "CHUNK", 3)
    monkeypatch.setattr(catch_up, "LAZY_OVER", 2)  # as a first build of 10,000 runs
    with Index(root, lazy=True) as idx:
        idx.describe_stubs()
    first = _tables(root)
    Index(root).close()  # any other reader describes every run
    return {**{f"first {t}": v for t, v in first.items()}, **_tables(root)}


def test_a_first_build_on_threads_indexes_what_one_run_at_a_time_does(
    odd_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every table, after the first tier and after the second, row for row."""
    used: set[str] = set()
    block = fan_out.block_process_signals

    def noted() -> None:  # the pool's initializer: which threads read
        used.add(threading.current_thread().name)
        block()

    monkeypatch.setattr(fan_out, "block_process_signals", noted)
    one_at_a_time = _build(odd_store, monkeypatch, slow=1e9)
    assert not used
    on_threads = _build(odd_store, monkeypatch, slow=-1)
    assert used and all(n.startswith(POOL) for n in used)
    assert on_threads == one_at_a_time
    assert len(on_threads["runs"]) == RUNS
    warned = [r for r in on_threads["first runs"] if "run.json" in r]
    assert warned  # the odd runs are listed, each with its warning


def test_an_interrupted_first_build_keeps_its_batches_and_stops_reading(
    odd_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (here: the progress callback raising) at run 12 of a build committing 5 runs
    at a time (the first tier of the runs a listing's first build left as stubs): the 10
    runs of the first two batches are kept, no reading thread is left, and the next open
    builds the rest. The
    process has read a large history before (its two-thread helper lives as long as the
    process): that thread is no reading thread left."""
    two_threads.both(lambda: None, lambda: None, two_threads.MIN_ROWS)  # starts the helper
    monkeypatch.setattr(fan_out, "OVER", 2)
    monkeypatch.setattr(fan_out, "SLOW", -1)  # every read waits, as on a cold disk
    monkeypatch.setattr(fan_out, "CHUNK", 2)
    monkeypatch.setattr(catch_up, "BATCH", 5)
    monkeypatch.setattr(catch_up, "LAZY_OVER", 2)  # a first tier: runs described on threads
    reading: list[str] = []

    def progress(done: int, total: int) -> None:
        if done == 12:
            reading.extend(t.name for t in threading.enumerate())
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), Index(odd_store, progress=progress, lazy=True) as idx:
        idx.describe_stubs()
    assert any(n.startswith(POOL) for n in reading)  # (threads were reading)
    assert not [t for t in threading.enumerate() if t.name.startswith(POOL)]
    with Index(odd_store, fresh=False) as idx:
        assert idx.con.execute("SELECT count(*) FROM runs WHERE NOT stub").fetchone()[0] == 10
    with Index(odd_store) as idx:
        assert idx.con.execute("SELECT count(*) FROM runs").fetchone()[0] == RUNS


def test_a_stat_pass_goes_to_threads_only_when_its_first_items_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fan_out_if_slow: items that wait for nothing (a cached store's stats) all on the
    calling thread; items that wait (a cold disk, NFS) after the first OVER on the pool;
    results in order."""
    monkeypatch.setattr(fan_out, "SLOW", 1e-3)  # (a loaded machine's preemption is no wait)
    items = list(range(fan_out.OVER * 3))

    def where(x: int, wait: float = 0.0) -> tuple[int, str]:
        threading.Event().wait(wait)
        return x, threading.current_thread().name

    quick = list(fan_out.fan_out_if_slow(where, items))
    assert [x for x, _ in quick] == items
    assert {name for _, name in quick} == {threading.current_thread().name}
    slow = list(fan_out.fan_out_if_slow(lambda x: where(x, 0.002), items))
    assert [x for x, _ in slow] == items
    names = [name for _, name in slow]
    assert set(names[: fan_out.OVER]) == {threading.current_thread().name}
    assert all(n.startswith(POOL) for n in names[fan_out.OVER :])


def test_a_slow_consumer_is_no_wait_of_the_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """fan_out_if_slow times each of its first items' reads alone: a consumer that takes
    its time with each result (a first build's index writes, holding the GIL) made quick
    reads look like disk waits, and the rest went to threads for nothing."""
    monkeypatch.setattr(fan_out, "SLOW", 1e-3)
    items = list(range(fan_out.OVER * 3))
    names = []
    for _, name in fan_out.fan_out_if_slow(lambda x: (x, threading.current_thread().name), items):
        names.append(name)
        threading.Event().wait(0.002)  # the consumer's work
    assert set(names) == {threading.current_thread().name}
