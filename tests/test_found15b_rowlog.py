"""A disk that stays full while log() goes on: the writer keeps log()'s rows in memory and
says so once (store/rowlog.py). The retry of a journal file a second after a failure (for a
disk that has room again) said it again at every try: one line on the training's stderr a
second for as long as the disk stays full (5 lines in 5 s here; 3,600 an hour)."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .conftest import python_script
from .test_found15_full_disk_journal import FILLED, small_disk  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow

#: a journal every 300 rows, no segment written by a tick: each rotation wants a journal file
SCRIPT = (
    FILLED
    + """
    end = time.monotonic() + 5  # full for 5 s: five tries of a journal file fail
    while time.monotonic() < end:
        run.log({{"i": i}}); i += 1
        time.sleep(0.001)
    os.unlink({filler!r})
    run.finish(quiet=True)
    print(i)
"""
)


def test_a_disk_full_for_seconds_is_said_once(small_disk: Path) -> None:  # noqa: F811
    store = small_disk / "store"
    code = SCRIPT.format(store=str(store), filler=str(small_disk / "filler"))
    done = python_script(code, timeout=120)
    assert done.returncode == 0, done.stderr
    said = [s for s in done.stderr.splitlines() if "cannot create a journal" in s]
    assert len(said) == 1, "\n".join(said)
    logged = int(done.stdout.split()[-1])
    run = flightlog.Api(store).run("disk/full")
    assert {r["i"] for r in run.scan_history(keys=["i"])} == set(range(logged))
