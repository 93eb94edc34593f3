"""A run finished, then resumed by a real process that keeps writing: what the run screen
and the kept segment listings (store/run_snapshot.py) must follow as it grows."""

from __future__ import annotations

import subprocess
from pathlib import Path

import flightlog

from .conftest import settled, spawn

RESUME = """
    import flightlog, os, sys, time
    run = flightlog.init(
        project="p", id="resumed1", resume="must", settings={{"flush_interval": {flush}}}
    )
    for i in range(100):
        run.log({{"loss": 1000.0 + i}})
    print("logged", flush=True)
    while not os.path.exists({stop!r}):
        time.sleep(0.05)
    run.finish()
"""


def resumed_writer(store: Path, flush: float = 0.1) -> subprocess.Popen[str]:
    """A real process that resumes run p/resumed1 (steps 0-99 finished), logs steps
    100-199, says so on stdout and keeps running until `store/../stop` exists. Its writer
    thread turns its journal into a segment every `flush` seconds."""
    proc = spawn(RESUME.format(stop=str(store.parent / "stop"), flush=flush))
    line = proc.stdout.readline() if proc.stdout else ""
    assert line.strip() == "logged", proc.stderr.read() if proc.stderr else ""
    return proc


def finished_run(store: Path) -> str:
    run = flightlog.init(project="p", id="resumed1", name="resumed")
    for i in range(100):
        run.log({"loss": float(i)})
    run.finish(quiet=True)
    settled()  # sealed: what a later process finds (the writer thread seals after finish())
    return "p/resumed1"
