"""A writer builds its open segment's sealed copy in a temp file as it writes
(`.<wid>-<seq>.<hex>.parquet.tmp`, store/sealing.py IncrementalSeal); killed -9, it left
that file behind, as big as the segment, and a resume of the run sealed the segment again
from its IPC file beside it: only `flightlog doctor --repair` removed the temp file. Now
the resume removes the temp files of the writers it proves gone (store/temp_leftovers.py),
never those of a writer alive or of a segment another sealer claimed."""

from __future__ import annotations

import signal
from pathlib import Path

import flightlog
from flightlog.store.sealing import ROW_GROUP

from .conftest import reaped, spawn
from .servers import wait_until

#: the sealed copy's file is made with its first row group (store/sealing.py)
ROWS = ROW_GROUP + 100

WRITER = f"""
    import time, flightlog
    run = flightlog.init(project="p", id="t")
    for i in range({ROWS}):
        run.log({{"loss": float(i)}})
    print("logged", flush=True)
    time.sleep(600)
"""


def _temps(history: Path) -> set[str]:
    return {p.name for p in history.glob(".*.parquet.tmp")}


def test_a_resume_removes_the_temp_files_its_killed_writer_left(store: Path) -> None:
    history = store / "runs/p/t/history"
    with reaped(spawn(WRITER)) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "logged\n"
        wait_until(lambda: _temps(history), 60, "the writer's sealed copy started")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed = _temps(history)
    assert killed, sorted(history.iterdir())  # (else the check below holds for nothing)
    run = flightlog.init(project="p", id="t", resume="allow")
    try:
        assert not killed & _temps(history), sorted(history.iterdir())
        run.log({"loss": float(ROWS)})
    finally:
        run.finish(quiet=True)
    assert [r["loss"] for r in flightlog.Api(store).run("p/t").scan_history()] == [
        float(i) for i in range(ROWS + 1)
    ]
