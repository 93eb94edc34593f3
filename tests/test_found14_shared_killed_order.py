"""Ranks of a shared run killed with kill -9: each killed writer's summary is caught up with
the rows it stored after its last heartbeat, but the run's summary still merged the writers
in the order of those heartbeats. A rank that beat last yet logged first won: the run showed
its older value of a key both ranks log, and a `_timestamp` before the run's last row."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .conftest import reaped, spawn
from .servers import wait_until

RANK = """
import os, time
import flightlog
rank = RANK
run = flightlog.init(project="p", id="shared1", mode="shared", settings={"heartbeat_interval": 30})
print("up", flush=True)
while not os.path.exists(f"go{rank}"):
    time.sleep(0.01)
run.log({"x": rank + 1})
open(f"logged{rank}", "w").close()
while True:
    time.sleep(1)
"""


def test_the_rank_that_logged_last_gives_the_killed_runs_summary(
    api: flightlog.Api, tmp_path: Path
) -> None:
    procs = []
    for rank in (0, 1):  # rank 1 starts (and beats) after rank 0
        proc = spawn(RANK.replace("RANK", str(rank)))
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    for rank in (1, 0):  # ... but logs before it
        (tmp_path / f"go{rank}").touch()
        wait_until((tmp_path / f"logged{rank}").exists, 60, f"rank {rank} logged")
    run = api.run("p/shared1")
    wait_until(lambda: len(list(run.scan_history())) == 2, 60, "both rows stored")
    for proc in procs:
        with reaped(proc):
            proc.kill()
            proc.wait(timeout=60)
    run = api.run("p/shared1")
    assert run.state == "crashed"
    last = max(run.scan_history(), key=lambda r: r["_timestamp"])
    summary = dict(run.summary)
    assert summary["x"] == last["x"] == 1, summary
    assert summary["_timestamp"] == pytest.approx(last["_timestamp"]), summary
