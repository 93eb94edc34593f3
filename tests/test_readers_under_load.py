"""Readers hammering a store while six runs train in their own processes: segments are
written, sealed into Parquet twins and removed under the readers' feet all the time, and
no listing, query or screen may fail because of it."""

from __future__ import annotations

import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest

import flightlog
from flightlog.tui import FlightlogApp
from flightlog.tui.run_screen import RunScreen

from .conftest import reaped, spawn
from .test_tui import SIZE, rows, settle

pytestmark = pytest.mark.slow

#: the training processes log until the test drops this file in the store, or 30 min pass
#: (18 reader calls took over 300 s at load 40 on 2 cores)
STOP = "stop-training"
TRAIN = f"""
    import os, sys, time, flightlog
    # small segments, frequent flushes: a seal (rename + remove) every fraction of a second
    run = flightlog.init(project="load", settings={{"segment_rows": 300, "flush_interval": 0.02}})
    stop = os.path.join(os.environ["FLIGHTLOG_DIR"], "{STOP}")
    end = time.monotonic() + 1800
    i = 0
    while time.monotonic() < end and not (i % 100 == 0 and os.path.exists(stop)):
        run.log({{"loss": 1.0 / (i + 1), "i": i}})
        i += 1
        time.sleep(0.002)
    run.finish()
"""


def _start_training(store: Path, n: int = 6) -> list[subprocess.Popen[str]]:
    procs = [spawn(TRAIN) for _ in range(n)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(list((store / "runs" / "load").glob("*/history/*"))) >= n:
            return procs
        time.sleep(0.1)
    raise AssertionError("the training processes never started writing")


def _stop_training(store: Path) -> None:
    (store / STOP).touch()


def _finish(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        with reaped(p):
            _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err


def _cli(*args: str) -> str | None:
    """None when the command succeeded, else what went wrong."""
    r = subprocess.run(
        [sys.executable, "-m", "flightlog.cli", *args], capture_output=True, text=True, timeout=120
    )
    return None if r.returncode == 0 else f"flightlog {' '.join(args)}: {r.stderr[-800:]}"


def _in_process(fn) -> str | None:
    try:
        fn()
    except Exception:
        return traceback.format_exc()[-800:]
    return None


def test_every_reader_keeps_working_while_six_runs_train(store: Path, api) -> None:
    procs = _start_training(store)
    try:
        # (a project directory also holds `.numbers/`, the run numbers claimed)
        run_id = next(d.name for d in (store / "runs" / "load").iterdir() if d.name[0] != ".")

        def history() -> None:
            for run in api.runs("load"):
                run.history(keys=["loss"])

        readers = [
            lambda: _cli("runs"),
            lambda: _cli("index"),
            lambda: _in_process(lambda: api.runs()),
            lambda: _cli("show", f"load/{run_id}"),
            lambda: _in_process(history),
            lambda: _cli("runs", "--json", "--where", "summary.loss < 1"),
        ]
        failures, calls = [], 0
        for calls in range(1, 3 * len(readers) + 1):  # every reader three times, runs training
            failure = readers[(calls - 1) % len(readers)]()
            if failure:
                failures.append(failure)
        ended = [p.returncode for p in procs if p.poll() is not None]
        assert not ended, f"training ended before the readers did (exit codes {ended})"
    finally:
        _stop_training(store)
        _finish(procs)
    assert failures == [], f"{len(failures)} of {calls} reader calls failed:\n" + "\n".join(
        failures[:3]
    )
    assert len(api.runs("load")) == 6


async def test_the_tui_refreshing_while_six_runs_train_never_crashes(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("flightlog.tui.runs_screen.REFRESH_SECONDS", 0.3)  # as often as it can
    procs = _start_training(store)
    try:
        app = FlightlogApp(store)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: len(rows(app)) == 6, timeout=60)
            for _ in range(4):
                await pilot.press("enter")  # a running run's page: its charts reload too
                await settle(pilot, lambda: isinstance(app.screen, RunScreen), timeout=60)
                await settle(pilot, lambda: app.screen.detail is not None, timeout=60)
                await pilot.pause(1.0)
                await pilot.press("escape")
                await settle(pilot, lambda: not isinstance(app.screen, RunScreen), timeout=60)
                await pilot.press("down")
            assert all(p.poll() is None for p in procs), "training ended before the TUI did"
            _stop_training(store)
            await settle(pilot, lambda: {r[1] for r in rows(app)} == {"✓"}, timeout=120)
    finally:
        _stop_training(store)
        _finish(procs)
    assert len(flightlog.Api(store).runs("load")) == 6
