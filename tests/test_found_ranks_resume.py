"""A multi-process job (one run, a writer per rank) requeued after preemption: every rank
calls `init(id=RUN, resume="allow")` again, the ranks a moment apart as they always are.
Each rank's steps continue after the run's last stored step, whichever rank came first.

Found by the breaker session: the first rank back resumes (its steps continue), but a rank
arriving while it writes joins it as a shared writer and starts at step 0 (flightlog/_init.py
_join_existing: `first_step = 0` for a live run), so its rows repeat steps the run already
holds, going backwards from its own earlier rows."""

from __future__ import annotations

import collections

import flightlog

from .conftest import python_script, spawn
from .servers import wait_until

RANK = """
    import sys, flightlog
    run = flightlog.init(project="p", id="ranks001", resume="allow",
                         settings={{"label": "rank{rank}"}})
    for i in range({rows}):
        run.log({{"loss": 1.0 / (i + 1), "job": {job}}})
    print("LOGGED", flush=True)
    if {hold}:
        sys.stdin.read()  # still training when the other rank comes back
    run.finish()
"""


def rank(r: int, job: int, rows: int, hold: bool = False) -> str:
    """Rank `r` of the `job`-th submission of the job, logging `rows` rows."""
    return RANK.format(rank=r, job=job, rows=rows, hold=hold)


def test_requeued_ranks_both_continue_after_the_last_step(api: flightlog.Api) -> None:
    for r in (0, 1):  # the first job: each rank logs 500 rows, then it is preempted
        res = python_script(rank(r, 1, 500))
        assert res.returncode == 0, res.stderr
    last = max(row["_step"] for row in api.run("p/ranks001").scan_history())
    first = spawn(rank(0, 2, 300, hold=True), stdin=-1)
    assert first.stdout is not None and first.stdin is not None
    try:
        wait_until(lambda: first.stdout.readline().startswith("LOGGED"), 60, "rank 0 back")
        second = python_script(rank(1, 2, 300))
        assert second.returncode == 0, second.stderr
    finally:
        first.stdin.close()  # rank 0 finishes
        assert first.wait(timeout=60) == 0
    resumed = collections.defaultdict(list)  # the requeued job's steps, by rank
    for row in api.run("p/ranks001").scan_history():
        if row["job"] == 2:
            resumed[row["_writer"]].append(row["_step"])
    assert sorted(resumed) == ["rank0", "rank1"]
    for label, steps in resumed.items():
        assert len(steps) == 300 and min(steps) > last, (label, min(steps), last)
