"""A full disk for a moment while log() goes on: the next journal cannot be created, and the
writer keeps log()'s rows in memory only (store/rowlog.py `_new`, warned once). Once the
disk has room again, log()'s rows must reach journal files again, so that a kill -9 loses
none whose log() returned. The memory-only switch was for the process's life: after the
disk came back (writes said to work again), a kill -9 lost every row the writer had not yet
written to a segment: 20,839 rows of a hot loop 3 s after the disk was freed."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

import flightlog

from .conftest import spawn
from .test_full_tmpfs import tmpfs
from .test_signals import _ended

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 128 MB tmpfs (the journals stay: 4 MiB each), unmounted after the test."""
    with tmpfs(tmp_path, "128m") as where:
        yield where


#: rows only in journals (no tick writes a segment: flush_interval 60 s), small journals (a
#: rotation every 300 rows: the writer thread makes each next one, woken by log()), and the
#: disk filled
FILLED = """
    import os, time, flightlog
    from flightlog.store import rowlog
    rowlog.ROWS_CAP = 300
    run = flightlog.init(project="disk", id="full", dir={store!r},
                         settings={{"console": "off", "flush_interval": 60}})
    i = 0
    for _ in range(100):
        run.log({{"i": i}}); i += 1
    with open({filler!r}, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"x" * (1 << 16))
        except OSError:
            pass  # the disk is full
"""
SCRIPT = (
    FILLED
    + """
    for _ in range(1000):  # rotations: no journal can be made
        run.log({{"i": i}}); i += 1
    os.unlink({filler!r})
    for _ in range(600):  # rotations: the writer makes the next journals, room again
        run.log({{"i": i}}); i += 1
    time.sleep(1.5)  # a journal file is tried again a second after the last failure
    for _ in range(300):  # the rest of the journal in memory that log() was in
        run.log({{"i": i}}); i += 1
    first = i
    for _ in range(3000):
        run.log({{"i": i}}); i += 1
    with open({out!r}, "w") as f:
        f.write(f"{{first}} {{i}}")
    os.kill(os.getpid(), 9)
"""
)


def test_rows_logged_after_a_full_disk_came_back_survive_a_kill_9(
    small_disk: Path, tmp_path: Path
) -> None:
    out = tmp_path / "returned"
    store = small_disk / "store"
    code = SCRIPT.format(store=str(store), filler=str(small_disk / "filler"), out=str(out))
    proc = spawn(code)
    assert _ended(proc) == -signal.SIGKILL, proc.stderr.read()
    first, end = map(int, out.read_text().split())
    run = flightlog.Api(store).run("disk/full")
    seen = {r["i"] for r in run.scan_history(keys=["i"])}
    missing = set(range(first, end)) - seen
    assert not missing, f"{len(missing)} of the {end - first} rows logged with room again lost"
