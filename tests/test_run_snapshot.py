"""A finished run's zoom and cursor read a kept listing of its segments, with the index's
answers; a run still writing is always read through the index."""

from __future__ import annotations

import time
from pathlib import Path

import flightlog
from flightlog.store.index import Index
from flightlog.store.query import downsample
from flightlog.store.run_snapshot import Snapshot, open_snapshot
from flightlog.tui.data import curves_of, load_curves, load_run, read_cursor

from .conftest import settled, spawn
from .resumed_run import finished_run, resumed_writer
from .tui_helpers import stop_trainers, wait_for_runs_dir


def test_a_finished_runs_zoom_and_cursor_answer_as_the_index_does(store: Path) -> None:
    run = flightlog.init(project="p", name="done")
    for i in range(50_000):
        run.log({"loss": 1.0 / (i + 1), "acc": float(i % 97)})
    run.finish(quiet=True)
    settled(run)  # a backlog left in the journal (the writer fell behind) is never kept
    run_key = f"p/{run.id}"
    load_run(store, run_key)  # the run screen opens: the index is read once
    with open_snapshot(store, [run_key]) as kept:
        assert isinstance(kept, Snapshot)
    for x_range in ((10_000.0, 40_000.0), (123.0, 456.0), None):
        got = load_curves(store, [run_key], ["loss", "acc"], x_range=x_range)
        with Index(store) as idx:
            table = downsample(idx, [run_key], ["loss", "acc"], 240, x_range=x_range, texts=False)
        assert got == curves_of(table)
    reading = read_cursor(store, [run_key], ["loss", "acc"], 31_337.4, window=100)
    assert reading["loss"][run_key].value == 1.0 / 31_338
    assert reading["acc"][run_key].value == float(31_337 % 97)


def test_a_run_still_writing_is_read_through_the_index_every_time(store: Path) -> None:
    stop = store.parent / "stop"
    proc = spawn(f"""
        import flightlog, os, time
        run = flightlog.init(project="live", name="trainer")
        i = 0
        while not os.path.exists({str(stop)!r}) and i < 200_000:
            run.log({{"loss": float(i)}})
            i += 1
            time.sleep(0.001)
        run.finish()
    """)
    try:
        wait_for_runs_dir(store)
        deadline = time.monotonic() + 60
        while True:
            with Index(store) as idx:
                found = idx.con.execute("SELECT run_key, steps FROM runs").fetchall()
            if found and found[0][1] > 200:
                break
            assert time.monotonic() < deadline, "the trainer logged nothing in 60 s"
            time.sleep(0.1)
        run_key = found[0][0]
        load_run(store, run_key)
        with open_snapshot(store, [run_key]) as idx:
            assert isinstance(idx, Index)  # not kept: its segments change as it writes
        seen = load_curves(store, [run_key], ["loss"])[run_key]["loss"]["x"][-1]
        deadline = time.monotonic() + 60
        while load_curves(store, [run_key], ["loss"])[run_key]["loss"]["x"][-1] <= seen + 100:
            assert time.monotonic() < deadline, "the chart never showed the new rows"
            time.sleep(0.1)
    finally:
        stop_trainers(stop, [proc])


def test_a_finished_run_resumed_is_read_through_the_index_again(store: Path) -> None:
    run_key = finished_run(store)
    load_run(store, run_key)  # the run screen opens: its segment listing is kept
    with open_snapshot(store, [run_key]) as kept:
        assert isinstance(kept, Snapshot)
    proc = resumed_writer(store)
    try:
        # polled: a read racing the writer's journal conversion has missed its rows once
        # (through the index; the next read had them). A kept listing misses them for good.
        deadline = time.monotonic() + 60
        while True:
            curves = load_curves(store, [run_key], ["loss"], x_range=(150.0, 199.0))
            reading = read_cursor(store, [run_key], ["loss"], 170.0, window=5)
            if run_key in curves and run_key in reading.get("loss", {}):
                break
            assert time.monotonic() < deadline, f"the resumed rows never read: {curves}"
            time.sleep(0.1)
        loss = curves[run_key]["loss"]
        assert min(loss["x"]) >= 150 and max(loss["x"]) == 199
        assert max(loss["max"]) == 1099.0
        assert reading["loss"][run_key].value == 1070.0
    finally:
        stop_trainers(store.parent / "stop", [proc])


def test_a_resumed_runs_first_rows_are_in_the_first_chart_read(store: Path) -> None:
    """The resumed writer's rows are in its journal only until its thread converts them: a
    running run with no open segment must still have its directory read (every read, not
    polled: before, every read missed them until the writer's next tick)."""
    run_key = finished_run(store)
    proc = resumed_writer(store, flush=60)  # the rows stay in the journal
    try:
        curves = load_curves(store, [run_key], ["loss"])
        assert max(curves[run_key]["loss"]["x"]) == 199
        assert max(curves[run_key]["loss"]["max"]) == 1099.0
        reading = read_cursor(store, [run_key], ["loss"], 170.0, window=5)
        assert reading["loss"][run_key].value == 1070.0
    finally:
        stop_trainers(store.parent / "stop", [proc])
