"""Crash safety with real child processes: kill -9, SIGTERM, exceptions, exit without finish."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

import flightlog

from .conftest import python_script, spawn

pytestmark = pytest.mark.slow

FAST_LOGGER = """
    import time, sys, flightlog
    run = flightlog.init(project="crash", id="victim")
    print("started", flush=True)
    i = 0
    while True:
        run.log({"i": i, "t": time.time()})
        i += 1
        if i % 1000 == 0:
            time.sleep(0.001)
"""


def _wait_for(proc, text: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if text in line:
            return
    raise AssertionError(f"child never printed {text!r}: {proc.stderr.read()}")


def _rows_on_disk(api: flightlog.Api, at_least: int, timeout: float = 60) -> int:
    """Wait until the running child's rows are readable: flushed, whatever the load."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        n = len(list(api.run("crash/victim").scan_history(keys=["i"])))
        if n >= at_least:
            return n
        time.sleep(0.1)
    raise AssertionError(f"fewer than {at_least} rows were ever flushed")


def test_kill_9_keeps_every_flushed_row_contiguous(api: flightlog.Api) -> None:
    proc = spawn(FAST_LOGGER)
    _wait_for(proc, "started")
    seen = _rows_on_disk(api, 1000)
    proc.kill()
    proc.wait()
    run = api.run("crash/victim")
    assert run.state == "crashed"
    rows = list(run.scan_history())
    assert len(rows) >= seen  # everything flushed before the kill reads back
    # contiguous from step 0: no hole, no torn row
    assert [r["_step"] for r in rows] == list(range(len(rows)))
    assert all(r["i"] == r["_step"] for r in rows)
    # how much a kill loses (one flush interval) is measured in tests/benchmarks/, not here


def test_crashed_run_resumes_with_auto_and_is_sealed(api: flightlog.Api, tmp_path: Path) -> None:
    proc = spawn(FAST_LOGGER, env={"FLIGHTLOG_STATS_INTERVAL": "0.1"})
    _wait_for(proc, "started")
    time.sleep(0.5)
    system = tmp_path / "store" / "runs" / "crash" / "victim" / "system"
    deadline = time.time() + 60
    while not list(system.glob("*.arrows")) and time.time() < deadline:
        time.sleep(0.1)  # the sampler has written, however loaded the machine
    proc.kill()
    proc.wait()
    before = list(api.run("crash/victim").scan_history())
    res = python_script("""
        import flightlog
        run = flightlog.init(project="crash", resume="auto")
        assert run.id == "victim", run.id
        print(run.step)
        run.log({"i": -1})
    """)
    assert res.returncode == 0, res.stderr
    assert int(res.stdout.strip()) == len(before)
    run = api.run("crash/victim")
    assert run.state == "finished"
    rows = list(run.scan_history())
    assert len(rows) == len(before) + 1 and rows[-1]["i"] == -1
    assert not list((run.dir / "history").glob("*.arrows")), "open segments were not sealed"
    assert list((run.dir / "system").glob("*.parquet"))  # the dead writer's samples too
    assert not list((run.dir / "system").glob("*.arrows"))


def test_sigterm_finishes_the_run_then_ends_the_process(api: flightlog.Api) -> None:
    proc = spawn(FAST_LOGGER)
    _wait_for(proc, "started")
    _rows_on_disk(api, 1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == -signal.SIGTERM  # ended as it would have without flightlog
    run = api.run("crash/victim")
    assert run.state == "failed" and "SIGTERM" in run.error
    rows = list(run.scan_history())
    assert [r["_step"] for r in rows] == list(range(len(rows)))
    assert not list((run.dir / "history").glob("*.arrows")), "finish seals every segment"
    assert run.summary["i"] == rows[-1]["i"]  # nothing pending was lost


def test_script_sigterm_handler_is_respected(api: flightlog.Api) -> None:
    res_proc = spawn("""
        import signal, sys, time, flightlog
        def handler(signum, frame):
            flightlog.log({"checkpointed": 1})
            flightlog.finish()
            sys.exit(0)
        signal.signal(signal.SIGTERM, handler)
        run = flightlog.init(project="crash", id="polite")
        run.log({"x": 1})
        print("started", flush=True)
        for _ in range(600):  # short sleeps, like a training loop: a signal that lands just
            time.sleep(0.1)   # before a sleep's syscall waits for that sleep to end (CPython)
    """)
    _wait_for(res_proc, "started")
    res_proc.send_signal(signal.SIGTERM)
    assert res_proc.wait(60) == 0
    run = api.run("crash/polite")
    assert run.state == "finished"
    assert [r.get("checkpointed") for r in run.scan_history()] == [None, 1]


def test_uncaught_exception_marks_failed_with_traceback(api: flightlog.Api) -> None:
    res = python_script("""
        import flightlog
        run = flightlog.init(project="crash", id="boom")
        run.log({"x": 1})
        raise RuntimeError("diverged at step 1")
    """)
    assert res.returncode == 1 and "diverged at step 1" in res.stderr
    run = api.run("crash/boom")
    assert run.state == "failed"
    assert "RuntimeError: diverged at step 1" in run.error
    assert [r["x"] for r in run.scan_history()] == [1]


def test_exit_without_finish_is_finished_by_atexit(api: flightlog.Api) -> None:
    res = python_script("""
        import flightlog
        flightlog.init(project="crash", id="atexit")
        flightlog.log({"x": 1}, step=3)  # pending, uncommitted
    """)
    assert res.returncode == 0, res.stderr
    run = api.run("crash/atexit")
    assert run.state == "finished"
    assert [(r["_step"], r["x"]) for r in run.scan_history()] == [(3, 1)]


def test_reading_a_run_while_it_is_written(api: flightlog.Api) -> None:
    proc = spawn(FAST_LOGGER)
    try:
        _wait_for(proc, "started")
        seen: list[int] = []
        deadline = time.time() + 60
        while (len(seen) < 5 or seen[-1] == seen[0]) and time.time() < deadline:
            time.sleep(0.3)
            run = api.run("crash/victim")
            assert run.state == "running"
            rows = list(run.scan_history(keys=["i"]))
            assert [r["_step"] for r in rows] == list(range(len(rows)))
            seen.append(len(rows))
        assert seen == sorted(seen) and seen[-1] > seen[0]
    finally:
        proc.kill()
        proc.wait()


def test_sigterm_inside_log_never_deadlocks(api: flightlog.Api) -> None:
    # A tight loop spends most of its time inside log(), holding the run's lock: the signal
    # usually lands there. Each process must still finish its run and die by the signal.
    code = """
        import flightlog, sys
        run = flightlog.init(project="crash", id=sys.argv[1])
        print("started", flush=True)
        i = 0
        while True:
            run.log({"i": i})
            i += 1
    """
    procs = [spawn(code.replace("sys.argv[1]", repr(f"tight{n}"))) for n in range(4)]
    for p in procs:
        _wait_for(p, "started")
    time.sleep(0.5)
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for n, p in enumerate(procs):
        assert p.wait(60) == -signal.SIGTERM
        run = api.run(f"crash/tight{n}")
        assert run.state == "failed"
        assert not list((run.dir / "history").glob("*.arrows"))
