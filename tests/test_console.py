"""Console capture: files/output.log gets what the script printed, the terminal is unchanged."""

from __future__ import annotations

import time

import pytest

import flightlog

from .conftest import python_script, spawn

pytestmark = pytest.mark.slow

SCRIPT = """
    import sys, threading, flightlog
    run = flightlog.init(project="con", id="c1")
    print("hello stdout")
    print("an error line", file=sys.stderr)
    for i in range(101):                      # a tqdm-style progress bar on stderr
        sys.stderr.write(f"\\r{i:3d}%|" + "#" * (i // 10))
        sys.stderr.flush()
    sys.stderr.write("\\n")
    t = threading.Thread(target=lambda: print("from a thread"))
    t.start(); t.join()
    sys.stdout.write("unfinished last line")
"""


def test_output_log_keeps_lines_final_bar_state_threads(api: flightlog.Api) -> None:
    res = python_script(SCRIPT)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "hello stdout\nfrom a thread\nunfinished last line"  # unchanged
    assert " 50%|#####" in res.stderr  # the terminal saw every frame (text mode reads \r as \n)
    log = (api.run("con/c1").dir / "files" / "output.log").read_text()
    assert log.splitlines() == [
        "hello stdout",
        "an error line",
        "100%|##########",
        "from a thread",
        "unfinished last line",
    ]


def test_console_off(api: flightlog.Api) -> None:
    res = python_script(SCRIPT, env={"FLIGHTLOG_CONSOLE": "off"})
    assert res.returncode == 0, res.stderr
    assert not (api.run("con/c1").dir / "files" / "output.log").exists()


def test_kill_9_keeps_the_console_output_written_before(api: flightlog.Api) -> None:
    proc = spawn("""
        import flightlog, time
        run = flightlog.init(project="con", id="k1")
        i = 0
        while True:
            print(f"line {i} {time.time():.3f}", flush=True)
            i += 1
            time.sleep(0.01)
    """)
    proc.stdout.readline()
    log = api.run("con/k1").dir / "files" / "output.log"
    deadline = time.time() + 60
    while (seen := log.read_text().count("\n") if log.exists() else 0) < 50:
        assert time.time() < deadline, "the console capture never reached the disk"
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    lines = log.read_text().splitlines()
    assert len(lines) >= seen and lines[0].startswith("line 0 ")  # written before: kept
    assert [int(line.split()[1]) for line in lines] == list(range(len(lines)))
    # how much output a kill loses (about a second) is measured in tests/benchmarks/


def test_size_cap_with_a_note(api: flightlog.Api) -> None:
    res = python_script("""
        import flightlog
        run = flightlog.init(project="con", id="cap", settings={"console_max_bytes": 2000})
        for i in range(500):
            print(f"line {i:04d} " + "x" * 40)
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("\n") == 500  # everything still shown
    log = (api.run("con/cap").dir / "files" / "output.log").read_text()
    assert "reached its 2,000-byte cap" in log
    assert len(log.encode()) < 2000 + 200


def test_output_waiting_for_a_thread_that_never_starts_stays_under_the_cap(
    api: flightlog.Api,
) -> None:
    """The console thread cannot start (out of threads): the printed lines wait in memory
    for finish(), up to the cap, not all of them (before: 300 MB printed, 100+ MB held)."""
    res = python_script("""
        import os, resource, sys
        import flightlog
        from flightlog._console import ConsoleCapture
        def refuse(self):
            raise RuntimeError("can't start new thread")
        ConsoleCapture.start = refuse
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # the terminal side of the tee: 300 MB shown to nobody
        run = flightlog.init(project="con", id="nothread", settings={"console_max_bytes": 2000})
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        line = "x" * 999
        for i in range(300_000):
            print(line)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        run.finish()
        sys.__stderr__.write(f"grown {grown}\\n")
    """)
    assert res.returncode == 0, res.stderr
    grown_kb = int(res.stderr.split("grown ")[1].split()[0])
    assert grown_kb < 30_000, res.stderr  # KB; holding every line is > 100,000
    log = (api.run("con/nothread").dir / "files" / "output.log").read_text()
    assert "reached its 2,000-byte cap" in log and len(log.encode()) < 2000 + 200


def test_bad_console_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLIGHTLOG_CONSOLE", "tee")
    with pytest.raises(flightlog.UsageError, match="unknown console='tee'"):
        flightlog.init()
