"""finish() records the run finished and returns; the writer thread writes and seals the last
rows after it (store/writer_close.py). Each child here holds that thread back (its `_close`
waits for a file the test creates), so what a reader, `doctor` or a sealer sees in that
window is pinned, not left to the scheduler."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import flightlog
from flightlog.store import RunPaths, StoredRun
from flightlog.store.doctor import check, repair
from flightlog.store.liveness import HOSTNAME, process_start_ticks
from flightlog.store.takeover import recover_journals, seal_abandoned, writer_gone, writers_by_id

from .conftest import settled, spawn

STEPS = 30_000

#: logs STEPS rows in a hot loop, finishes, prints its writer's state file, then kills itself
#: (KILL) or exits; its writer thread's close waits (up to 120 s) for the file GO
CHILD = """
import json, os, signal, time, flightlog
from flightlog.store import threads, writer_close
threads.EXIT_WAIT = EXIT_WAIT
closing = writer_close.WriterClose._close
def held(self):
    deadline = time.monotonic() + 120
    while not os.path.exists(GO) and time.monotonic() < deadline:
        time.sleep(0.01)
    closing(self)
writer_close.WriterClose._close = held
run = flightlog.init(project="p", id="r", settings={"console": "off"})
run._wait_context(60.0)  # its writer thread runs (a busy machine may start it late)
for i in range(STEPS):
    run.log({"loss": i * 0.5, "acc": 1.0 / (i + 1)})
run.config.update({"late": 1})  # run.json's last change: written by finish(), not after
run.finish(quiet=True)
state = os.path.join(run.dir, "writers", run._writer_id + ".json")
print(json.dumps(json.load(open(state))), flush=True)
if KILL:
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _child(go: Path, kill: bool, exit_wait: float = 120.0):
    code = f"GO, KILL, STEPS, EXIT_WAIT = {str(go)!r}, {kill}, {STEPS}, {exit_wait}\n" + CHILD
    return spawn(code)


def _every_row(api: flightlog.Api) -> None:
    run = api.run("p/r")
    assert run.state == "finished"
    rows = list(run.scan_history(keys=["loss"]))
    assert [r["_step"] for r in rows] == list(range(STEPS)), "a row missing, out of order or twice"
    assert rows[-1]["loss"] == (STEPS - 1) * 0.5


def test_a_kill_right_after_finish_loses_no_row_and_the_run_reads_finished(
    api: flightlog.Api, store: Path, tmp_path: Path
) -> None:
    """kill -9 after finish() returned, before the writer thread wrote the last rows: every
    row is read (from the journals), in order and once; the run is finished and run.json
    holds the config set last; doctor seals what is left and the history reads the same."""
    proc = _child(tmp_path / "never", kill=True)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -9, err
    state = json.loads(out)
    assert state["state"] == "finished" and state["sealing"] is True
    _every_row(api)
    assert json.loads((store / "runs" / "p" / "r" / "run.json").read_text())["config"]["late"] == 1
    problems = check(store)
    kinds = {"unsealed-journal", "unsealed-segment", "stale-temp", "stale-index"}
    assert {p.kind for p in problems} <= kinds, problems
    assert any(p.kind == "unsealed-journal" for p in problems), problems
    repair(store, problems)
    assert not {p.kind for p in check(store)} - {"stale-index"}
    history = store / "runs" / "p" / "r" / "history"
    assert not list(history.glob("*.journal")) and not list(history.glob("*.arrows"))
    _every_row(flightlog.Api(store))


def test_a_sealing_writer_is_left_alone_while_its_process_lives(
    api: flightlog.Api, store: Path, tmp_path: Path
) -> None:
    """Between finish() and the writer thread's seal, the state file says finished and
    `sealing`: no sealer (sync, the agent, doctor, a resume) turns its journals into a
    segment of its own while the process lives, which would store rows twice; readers
    read every row meanwhile; and the interpreter's exit waits for the seal."""
    go = tmp_path / "go"
    proc = _child(go, kill=False)
    try:
        line = proc.stdout.readline()
        state = json.loads(line)
        assert state["state"] == "finished" and state["sealing"] is True
        assert not writer_gone(state)
        paths = RunPaths(store / "runs" / "p" / "r")
        stored = StoredRun.load(paths)
        assert stored is not None
        assert recover_journals(paths, writers_by_id(stored.writers)) == []
        assert seal_abandoned(paths, stored.writers) == 0
        found = {p.kind for p in check(store)} - {"stale-index"}
        assert not found, "doctor must not offer to seal a live writer's files"
        assert list(paths.history.glob("*.journal"))
        _every_row(api)
    finally:
        go.touch()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    history = store / "runs" / "p" / "r" / "history"
    assert not list(history.glob("*.journal")) and not list(history.glob("*.arrows"))
    (writer,) = (store / "runs" / "p" / "r" / "writers").glob("*.json")
    assert "sealing" not in json.loads(writer.read_text())
    _every_row(flightlog.Api(store))


def test_a_finished_writer_still_sealing_is_gone_only_once_its_process_is() -> None:
    """The rule every sealer follows (store/takeover.py `writer_gone`), for the state file
    finish() leaves until its writer thread has sealed."""
    me = {
        "state": "finished",
        "sealing": True,
        "host": HOSTNAME,
        "pid": os.getpid(),
        "pid_start": process_start_ticks(os.getpid()),
        "heartbeat_at": time.time(),
    }
    assert not writer_gone(me)
    assert writer_gone({**me, "pid_start": -1})  # the pid reused: that process is gone
    assert writer_gone({k: v for k, v in me.items() if k != "sealing"})
    other_host = {**me, "host": HOSTNAME + "-not-this-one"}
    assert not writer_gone(other_host)  # heard from recently
    assert writer_gone({**other_host, "heartbeat_at": 0.0})


def test_exit_waits_for_a_stuck_writer_thread_a_bounded_time_and_loses_nothing(
    store: Path, tmp_path: Path
) -> None:
    """A writer thread that never finishes sealing (a hung disk, a lock never released)
    does not keep the process from exiting: the exit waits store/threads.py's EXIT_WAIT,
    says so, and the rows are kept in the journals, the run finished, for doctor to seal."""
    proc = _child(tmp_path / "never", kill=False, exit_wait=1.0)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "did not finish sealing within 1 s" in err and "doctor --repair" in err, err
    api = flightlog.Api(store)
    _every_row(api)
    problems = check(store)
    assert any(p.kind == "unsealed-journal" for p in problems), problems
    repair(store, problems)
    _every_row(flightlog.Api(store))


#: logs rows with an image, finishes and exits at once; its writer thread's close waits until
#: the interpreter's exit has begun (threading's shutdown flag, private: no public sign),
#: then a little more, so the seal runs among the exit's hooks, not before them
AT_EXIT_CHILD = """
import threading, time, numpy as np, flightlog
if POOLS_FIRST:  # a library's thread pools: their exit hook then runs before flightlog's
    import concurrent.futures.thread
from flightlog.store import writer_close
closing = writer_close.WriterClose._close
def held(self):
    deadline = time.monotonic() + 120
    while not threading._SHUTTING_DOWN and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # the exit hooks that run before the wait have run
    print("sealing at exit", flush=True)
    closing(self)
writer_close.WriterClose._close = held
run = flightlog.init(project="p", id="m", settings={"console": "off"})
run._wait_context(60.0)  # its writer thread runs (else finish() closes on this thread)
for i in range(500):
    row = {"loss": i * 0.5}
    if i % 100 == 0:
        row["img"] = flightlog.Image(np.full((8, 8, 3), i % 255, np.uint8))
    run.log(row)
run.finish(quiet=True)
"""


@pytest.mark.parametrize("pools_first", [False, True], ids=["pools-later", "pools-first"])
def test_a_seal_left_to_the_exit_completes_with_media_to_fsync(
    api: flightlog.Api, pools_first: bool
) -> None:
    """The seal after finish() runs while the interpreter exits: it must still be able to use
    a thread pool (the media fsyncs). The exit's wait ran after concurrent.futures' exit hook,
    so the seal failed with "can't register atexit after shutdown", a traceback on stderr
    and its journals left for doctor (1 script exit in 2-6)."""
    proc = spawn(f"POOLS_FIRST = {pools_first}\n" + AT_EXIT_CHILD)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert out.strip() == "sealing at exit"  # (not on the caller's thread, in finish())
    assert "Traceback" not in err and "Exception in thread" not in err, err
    run = api.run("p/m")
    assert [r["_step"] for r in run.scan_history(keys=["loss"])] == list(range(500))
    history = sorted(p.name for p in run.paths.history.iterdir())
    assert not [n for n in history if n.endswith((".journal", ".arrows", ".tmp"))], history
    problems = check(Path(os.environ["FLIGHTLOG_DIR"]))
    assert [p for p in problems if p.kind != "stale-index"] == []


def test_a_slow_record_by_finish_and_the_threads_own_leave_one_finished_state(
    api: flightlog.Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """finish()'s record takes longer than the writer thread waits for it (run.json written
    on a stalled NFS host): the thread records and seals meanwhile. finish()'s own record
    then came second and set `sealing` again for the rest of the process's life, and no
    sealer could take the run's files; one of the two records now does it all."""
    import threading

    from flightlog.store import writer, writer_close

    monkeypatch.setattr(writer_close, "GO_ON_WAIT", 0.05)
    write_meta = writer.RunWriter._write_meta

    def slow_on_the_caller(self) -> None:  # type: ignore[no-untyped-def]
        if threading.current_thread() is threading.main_thread() and self._stop.is_set():
            time.sleep(0.5)  # the thread's own record (after GO_ON_WAIT) goes first
        write_meta(self)

    monkeypatch.setattr(writer.RunWriter, "_write_meta", slow_on_the_caller)
    run = flightlog.init(project="p", id="slow", settings={"console": "off"})
    run._wait_context(60.0)  # its writer thread runs (else finish() closes on this thread)
    for i in range(100):
        run.log({"loss": i * 0.5})
    run.finish(quiet=True)
    settled()
    [state] = (Path(run.dir) / "writers").glob("*.json")
    doc = json.loads(state.read_text())
    assert doc["state"] == "finished" and not doc.get("sealing"), doc
    assert [r["_step"] for r in api.run("p/slow").scan_history()] == list(range(100))


#: finish() closes on the caller's thread (the writer thread never started: a short script on
#: a busy machine) and a SIGTERM lands in that close, whose helper thread finishes the run too
SIGTERM_IN_CLOSE = """
import os, signal, threading, flightlog
from flightlog import _run_background
from flightlog.store import writer
_run_background.RunBackground._start_threads = lambda self: None
helper_closes, first_sealed = threading.Event(), threading.Event()
closing, sealing = writer.RunWriter.close, writer.RunWriter._close_segment
def close(self, then=None):
    if threading.current_thread() is not threading.main_thread():
        helper_closes.set()
    closing(self, then)
def close_segment(self):
    if threading.current_thread() is threading.main_thread():
        os.kill(os.getpid(), signal.SIGTERM)
        helper_closes.wait(60)
        sealing(self)
        first_sealed.set()
    else:
        first_sealed.wait(60)
        sealing(self)
writer.RunWriter.close, writer.RunWriter._close_segment = close, close_segment
run = flightlog.init(project="p", id="t", settings={"console": "off", "stats_interval": 0})
for i in range(5000):
    run.log({"i": i})
run.finish()
threading.Event().wait(60)  # SIGTERM ends the process here
"""


#: then the caller's finish() ends the run first and is slow to say its line, while SIGTERM's
#: helper, its close done, goes on to end the process
CALLER_SAYS_LATE = """
import time
from flightlog import _run_finish
ended = threading.Event()
line, closing_first = _run_finish.RunFinish._finish_line, writer.RunWriter.close
def finish_line(self):
    if threading.current_thread() is threading.main_thread():
        ended.set()
        time.sleep(2)
    return line(self)
def close_second(self, then=None):
    closing_first(self, then)
    if threading.current_thread() is not threading.main_thread():
        ended.wait(60)
_run_finish.RunFinish._finish_line, writer.RunWriter.close = finish_line, close_second
run = flightlog.init("""


@pytest.mark.parametrize(
    "script",
    [SIGTERM_IN_CLOSE, SIGTERM_IN_CLOSE.replace("run = flightlog.init(", CALLER_SAYS_LATE)],
    ids=["closes", "caller-says-late"],
)
def test_a_sigterm_while_finish_closes_on_the_callers_thread_closes_once_and_ends_it(
    api: flightlog.Api, store: Path, script: str
) -> None:
    """The SIGTERM helper's close waits for the one under way and finds the run closed.
    Two closes at once tore the journal's map from under each other: the helper died on a
    TypeError, so the process was never ended (it ran on after Slurm's SIGTERM) and said
    the finish line twice. The finish line is said once, also when the caller's finish()
    ended the run first: the helper ended the process before the caller had said it (no
    line; seen under load)."""
    proc = spawn(script, env={"FLIGHTLOG_SILENT": ""})
    out, err = proc.communicate(timeout=120)
    said = out + err
    assert proc.returncode == -15, said
    assert "Traceback" not in said and said.count("flightlog: failed") == 1, said
    run = api.run("p/t")
    assert run.state == "failed", said
    assert [r["i"] for r in run.scan_history()] == list(range(5000))
    assert {p.kind for p in check(store)} <= {"stale-index"}
