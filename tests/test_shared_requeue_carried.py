"""A requeued shared job's summary by key (store/summary_merge.py): a value the resuming
rank only carried from the earlier job's gives way to one another rank logged since, but not
when the resuming rank logged the key itself after its last heartbeat and was then killed
(store/summary_tail.py: the rows it stored after its beat are its own, caught up)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import flightlog
from flightlog.store import RunPaths, StoredRun
from flightlog.store.liveness import CRASHED, writer_state

from .conftest import reaped, spawn

FIRST = """
import flightlog
run = flightlog.init(project="p", id="carried", settings={"console": "off"})
run.log({"r0": 1, "r1": 1})
run.finish()
"""

RANK = """
import os, time
import flightlog
rank = {rank}
run = flightlog.init(project="p", id="carried", mode="shared", resume="allow",
                     settings={{"console": "off", "heartbeat_interval": 30}})
print("up", flush=True)
def wait(name):
    while not os.path.exists(name):
        time.sleep(0.01)
if rank == 1:
    run.log({{"r1": 5}})
    run.finish()
else:
    wait("rank1-done")  # r1: rank 1's, then this rank's after its only heartbeat
    run.log({{"r0": 2, "r1": 3}})
    print("logged", flush=True)
    time.sleep(600)  # killed here
"""


def test_a_killed_resuming_rank_keeps_the_carried_key_it_logged_after_its_beat(
    api: flightlog.Api, tmp_path: Path
) -> None:
    first = spawn(FIRST)
    with reaped(first):
        assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    resumer = spawn(RANK.format(rank=0))
    with reaped(resumer):
        assert resumer.stdout is not None and resumer.stdout.readline().strip() == "up"
        joiner = spawn(RANK.format(rank=1))
        with reaped(joiner):
            assert joiner.wait(timeout=120) == 0, joiner.stderr.read() if joiner.stderr else ""
        (tmp_path / "rank1-done").touch()
        assert resumer.stdout.readline().strip() == "logged"
        os.kill(resumer.pid, signal.SIGKILL)
        resumer.wait(timeout=60)
    stored = StoredRun.load(RunPaths(Path(api.run("p/carried").dir)))
    assert stored is not None
    (beat,) = [w for w in stored.writers if writer_state(w) == CRASHED]
    assert "r1" in beat["summary_carried"]  # its beat was before it logged r1 (30 s apart)
    run = api.run("p/carried")
    assert [r["r1"] for r in run.scan_history() if r.get("r1") is not None] == [1, 5, 3]
    summary = dict(run.summary)
    assert {k: summary.get(k) for k in ("r0", "r1")} == {"r0": 2, "r1": 3}, summary
