"""`Api().run(p).delete()` while another process resumes that run (`init(id=..., resume=
"allow")`): the delete sees no live writer (the resuming process writes its state only once
it has read the run's history), renames the directory away, and the resume goes on over a
run that is gone. Each window is held open here by the resuming process itself (a real
child interpreter, paused inside init at one step until the test says go), so the outcome
does not depend on timing.

What a user may see: the delete refused while a process resumes the run, or the run deleted
and the resume making a new one, as resume="allow" does for an id not there. What happens:
- the run's directory gone between init's look for it and its read of run.json: init
  raises ResumeError "has no readable run.json" into the training script;
- gone while init reads its history: the delete succeeds, and the resume writes the run
  back (run.json, its writer) with the deleted rows' summary and none of their history.
Both lay in init's resume (flightlog/_init.py): the delete's check and rename could not see
a resume that had not yet written anything. Now a resume holds the run's lock (shared,
store/file_lock.py RUN_LOCK) from before it reads run.json until its writer is on record, a
delete holds it exclusive until the run is renamed away: the delete waits, then refuses;
a resume started during a delete waits, then finds no run and makes a new one."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .conftest import reaped, settled, spawn
from .servers import wait_until

#: the resuming process: `pause` replaces one step of init with a wait for the file `go`
RESUME = """
    import os, time, flightlog
    from flightlog.store.history_fold import HistoryFold
    from flightlog.store.reader import StoredRun

    def held(f):
        def wrapper(*args, **kw):
            out = f(*args, **kw) if {after!r} else None
            print("paused", flush=True)
            while not os.path.exists({go!r}):
                time.sleep(0.01)
            return out if {after!r} else f(*args, **kw)
        return wrapper

    {pause}
    try:
        run = flightlog.init(project="p", id="x", resume="allow")
        run.log({{"loss2": 1.0}})
        run.finish(quiet=True)
        print("ok", flush=True)
    except Exception as e:
        print("raised", type(e).__name__, e, flush=True)
"""

PAUSES = {
    # after init found run.json, before it reads it
    "found": ("StoredRun.load = held(StoredRun.load)", False),
    # while init reads the run's history (the first add_all: the resumed writer's fold)
    "folding": ("HistoryFold.add_all = held(HistoryFold.add_all)", False),
}


@pytest.mark.parametrize("where", sorted(PAUSES))
def test_a_run_deleted_while_another_process_resumes_it(
    store: Path, tmp_path: Path, where: str
) -> None:
    run = flightlog.init(project="p", id="x")
    for i in range(50):
        run.log({"loss": float(i)})
    run.finish(quiet=True)
    settled(run)
    go = tmp_path / "go"
    pause, after = PAUSES[where]
    with reaped(spawn(RESUME.format(go=str(go), pause=pause, after=after))) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "paused\n"
        try:
            flightlog.Api(store).run("p/x").delete()
            deleted = True
        except flightlog.Error:  # refused while it resumes: what it may do
            deleted = False
        go.touch()
        out, err = proc.communicate(timeout=120)
    assert out.strip() == "ok", out + err  # init never raises over a run deleted meanwhile
    after_run = flightlog.Api(store).run("p/x")
    logged = {k for r in after_run.scan_history() for k in r}
    if deleted:  # the resume made a new run: nothing of the deleted one
        assert "loss" not in after_run.summary and "loss" not in logged
    else:
        assert {"loss", "loss2"} <= logged


#: the deleting process: paused, holding the run's lock, once it has checked the run
DELETE = """
    import os, time, flightlog
    from flightlog import _api_delete

    checked = _api_delete._check_place
    def held(*args):
        checked(*args)
        print("paused", flush=True)
        while not os.path.exists({go!r}):
            time.sleep(0.01)

    _api_delete._check_place = held
    flightlog.Api().run("p/x").delete()
    print("deleted", flush=True)
"""


def _resume_saying(said: Path) -> str:
    """The resuming process, unpaused, its messages (stderr) going to the file `said` as
    they are printed; it waits for the run's lock as long as the test needs (not 5 s)."""
    return f"""
    import sys
    import flightlog.store.file_lock
    flightlog.store.file_lock.LOCK_WAIT = 600
    sys.stderr = open({str(said)!r}, "w", buffering=1)
""" + RESUME.format(go="", pause="", after=False)


def _finished_run(n: int = 50) -> None:
    run = flightlog.init(project="p", id="x")
    for i in range(n):
        run.log({"loss": float(i)})
    run.finish(quiet=True)
    settled(run)


def test_a_resume_started_while_the_run_is_deleted_waits_and_makes_a_new_run(
    store: Path, tmp_path: Path
) -> None:
    """The delete had checked the run (no live writer) and not yet renamed it away: a
    resume found the run, went on, and was deleted under it (its rows gone with the run).
    Now the resume waits for the delete, says so, finds no run and makes a new one."""
    _finished_run()
    go, said = tmp_path / "go", tmp_path / "said"
    said.touch()
    with reaped(spawn(DELETE.format(go=str(go)))) as deleting:
        assert deleting.stdout is not None and deleting.stdout.readline() == "paused\n"
        with reaped(spawn(_resume_saying(said), env={"FLIGHTLOG_SILENT": "0"})) as resuming:
            wait_until(
                lambda: (
                    resuming.poll() is not None
                    or "being deleted by another process" in said.read_text()
                ),
                120,
                "the resume to wait for the delete (or to end)",
            )
            go.touch()
            out, err = deleting.communicate(timeout=120)
            assert out.endswith("deleted\n"), out + err
            out, err = resuming.communicate(timeout=120)
            assert out.strip() == "ok", out + err + said.read_text()
    run = flightlog.Api(store).run("p/x")  # the new run, with nothing of the deleted one
    logged = {k for r in run.scan_history() for k in r}
    assert "loss2" in logged and "loss" not in logged and "loss" not in run.summary


def test_a_resume_killed_while_it_holds_the_runs_lock_leaves_the_run_deletable(
    store: Path, tmp_path: Path
) -> None:
    """The lock is the kernel's (flock): a resuming process killed -9 while it reads the
    run's history leaves nothing held, and the delete goes through at once."""
    _finished_run()
    pause, after = PAUSES["folding"]
    never = tmp_path / "never"
    with reaped(spawn(RESUME.format(go=str(never), pause=pause, after=after))) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "paused\n"
        proc.kill()
        proc.wait()
    flightlog.Api(store).run("p/x").delete()
    assert not (store / "runs/p/x").exists()
