"""A resume reads the run's whole history for its summary's figures (store/history_fold.py)
and its last step: one segment at a time, so its memory does not grow with the run's length.
Reading every segment at once, the figures of a 100M-row run needed several GB at init()."""

from __future__ import annotations

from pathlib import Path

from .conftest import python_script
from .long_history import long_run

RESUME = """
import resource, sys
import pyarrow.compute, pyarrow.parquet
import flightlog, flightlog.store.reader
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
run = flightlog.init(project="p", id=sys.argv[1], resume="must")
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(grown // 1024, run.step)
run.finish(quiet=True)
"""


def _resume(run_id: str) -> tuple[int, int]:
    """(peak RSS growth in MB of a process resuming `run_id`, during init(); its next step)."""
    res = python_script(RESUME.replace("sys.argv[1]", repr(run_id)), timeout=300)
    assert res.returncode == 0, res.stderr
    mb, step = res.stdout.split()
    return int(mb), int(step)


def test_resuming_a_run_four_times_as_long_takes_no_more_memory(store: Path) -> None:
    # 100,000-row segments: 4 against 16 of them; reading all at once, the longer run's
    # 1.2M more rows took ~60 bytes each (70+ MB) more, read one at a time ~nothing
    long_run(store, "short", 400_000, segment_rows=100_000)
    long_run(store, "long", 1_600_000, segment_rows=100_000)
    short_mb, short_step = _resume("short")
    long_mb, long_step = _resume("long")
    assert (short_step, long_step) == (40_001, 160_001)
    assert long_mb - short_mb < 25, (short_mb, long_mb)
