"""Ranks of a requeued job (torchrun-like, mode="shared", one run id): the first to start
resumes the run, the others join it. A joining rank started its aggregates empty, so a key
only it logs (a per-rank metric with define_metric(summary="min")) was summarised over the
last job's rows alone: the earlier jobs' best value was lost from the run's summary."""

from __future__ import annotations

from pathlib import Path

import flightlog

from .conftest import reaped, spawn

RANK = """
import os, sys, time
import flightlog
rank, n = int(sys.argv[1]), int(sys.argv[2])
run = flightlog.init(project="p", id="ranks1", mode="shared", resume="allow")
run.define_metric("best*", summary="min")
print("up", flush=True)
while not os.path.exists("go"):
    time.sleep(0.01)
for i in range(n):
    run.log({f"best{rank}": 100.0 - i})
run.finish()
"""


def _job(tmp_path: Path, n: int) -> None:
    """Two ranks, started one after the other (the second joins the first), each logging
    `n` rows of its own key once both are up."""
    go = tmp_path / "go"
    go.unlink(missing_ok=True)
    procs = []
    for rank in range(2):
        proc = spawn(RANK.replace("sys.argv[1]", str(rank)).replace("sys.argv[2]", str(n)))
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        procs.append(proc)
    go.touch()
    for proc in procs:
        with reaped(proc):
            assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""


def test_a_joining_ranks_summary_keeps_the_earlier_jobs_best(
    api: flightlog.Api, tmp_path: Path
) -> None:
    _job(tmp_path, 50)  # best 51.0 for each rank
    _job(tmp_path, 5)  # requeued, shorter: best 96.0 in this job alone
    summary = dict(api.run("p/ranks1").summary)
    assert summary["best0"] == 51.0, summary  # the resuming rank's: from the history
    assert summary["best1"] == 51.0, summary
