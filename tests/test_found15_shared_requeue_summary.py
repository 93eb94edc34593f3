"""A requeued shared job (ranks of one run id, resume="allow"), each rank logging a key of
its own: the run's summary must hold each key's last logged value. The rank that resumes
the run starts its summary from the earlier job's (every rank's keys, store/history_fold.py
`resumed`) and records it whole; readers merge the writers' summaries whole, the most
recently logged to winning (store/reader.py `StoredRun.summary`). So when the resuming rank
logs last, the other ranks' keys show the earlier job's values, not this job's: every rank
but one, when 8 ranks were requeued (found by an 8-rank requeue, some ranks killed -9)."""

from __future__ import annotations

from pathlib import Path

import flightlog

from .conftest import reaped, spawn

RANK = """
import os, time
import flightlog
rank, job, n = {rank}, {job}, {n}
run = flightlog.init(project="p", id="requeued", mode="shared", resume="allow",
                     settings={{"console": "off"}})
print("up", flush=True)
def wait(name):
    while not os.path.exists(name):
        time.sleep(0.01)
wait("go{job}")
if rank == 0 and job == 1:
    wait("rank1-done")  # the resuming rank logs last
for i in range(n):
    run.log({{f"r{{rank}}": job * 1000 + i}})
run.finish()
if rank == 1:
    open("rank1-done", "w").close()
"""


def _job(tmp_path: Path, job: int) -> None:
    """Rank 0 then rank 1 (it joins rank 0's run), started one after the other."""
    procs = []
    for rank in range(2):
        proc = spawn(RANK.format(rank=rank, job=job, n=50))
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        procs.append(proc)
    (tmp_path / f"go{job}").touch()
    for proc in procs:
        with reaped(proc):
            assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    (tmp_path / "rank1-done").unlink(missing_ok=True)


def test_each_ranks_key_shows_its_last_value_after_a_requeue(
    api: flightlog.Api, tmp_path: Path
) -> None:
    _job(tmp_path, 0)
    _job(tmp_path, 1)
    run = api.run("p/requeued")
    rows = list(run.scan_history())
    last = {k: [r[k] for r in rows if r.get(k) is not None][-1] for k in ("r0", "r1")}
    assert last == {"r0": 1049, "r1": 1049}
    summary = dict(run.summary)
    assert {k: summary.get(k) for k in last} == last, summary
