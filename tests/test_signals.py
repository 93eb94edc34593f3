"""Signals landing inside log(): storms of SIGINT, a script's own raising handler, SIGTERM.

A KeyboardInterrupt (or any exception a signal handler raises) may land between any two
bytecodes of log(). Whatever happens, every row whose log() returned is kept whole, a row
whose log() raised is kept whole or not at all, and nothing after it is lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import flightlog

from .conftest import spawn

pytestmark = pytest.mark.slow

#: logs rows whose values all derive from `i`, so a torn or shuffled row is visible, and records
#: which calls returned (kept for sure). The handler raises only while flightlog's own code runs
#: (any bytecode of log(), the inline drain, finish()), so the script itself is never torn.
STORM_SCRIPT = """
    import os, signal, sys, flightlog
    class Stop(Exception):
        pass
    def on_int(signum, frame):
        if frame is not None and frame.f_globals.get("__name__", "").startswith("flightlog"):
            raise {exc}()
    signal.signal(signal.SIGINT, on_int)
    run = flightlog.init(project="sig", id="storm", settings={{"console": "off"}})
    returned, raised, i = [], 0, 0
    print("ready", flush=True)
    while i < {n}:
        try:
            run.log({{"i": i, "a": 2 * i, "b": i + 0.5, "c": -i, "d": i % 7}})
            returned.append(i)
        except {exc}:
            raised += 1
        i += 1
    open({done!r}, "w").close()
    while True:
        try:
            run.finish()
            break
        except {exc}:
            raised += 1
    with open({out!r}, "w") as f:
        f.write(",".join(map(str, returned)) + "\\n" + str(raised))
"""


def _signal_masks(pid: int) -> str:
    """Each thread's name and its pending and blocked signal masks (/proc), and the
    process's shared pending ones: a SIGINT once left a child looping log() for 180 s
    (suites at load 25) with no KeyboardInterrupt raised, and where it went is unknown."""
    out, shared = [], "?"
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        try:
            task = Path(f"/proc/{pid}/task/{tid}")
            name = (task / "comm").read_text().strip()
            lines = (task / "status").read_text().splitlines()
            fields = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
        except OSError:
            continue
        out.append(f"{tid} {name} pnd={fields.get('SigPnd')} blk={fields.get('SigBlk')}")
        ign, cgt = fields.get("SigIgn"), fields.get("SigCgt")
        shared = f"{fields.get('ShdPnd')} ignored {ign} caught {cgt}"
    return f"shared pending {shared}; threads: " + ", ".join(out)


def _ended(proc, timeout: float = 180) -> int:
    """The child's exit code; a child that hangs is killed (never left running) and fails,
    showing where each of its threads waited (faulthandler's dump on SIGABRT)."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        masks = _signal_masks(proc.pid)  # before the abort: who holds a signal, who blocks it
        proc.send_signal(signal.SIGABRT)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        hung = f"the child hung for {timeout} s; {masks}; its threads:\n{err[-20000:]}"
        raise AssertionError(hung) from None
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def _storm(tmp_path, *, exc: str, n: int):
    out, done = tmp_path / "returned.txt", tmp_path / "done"
    code = STORM_SCRIPT.format(exc=exc, n=n, out=str(out), done=str(done))
    proc = spawn(code)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    sent = 0
    deadline = time.monotonic() + 300
    while proc.poll() is None and not out.exists() and time.monotonic() < deadline:
        os.kill(proc.pid, signal.SIGINT)
        sent += 1
        time.sleep(0.002)
    assert _ended(proc) == 0, proc.stderr.read()
    text = out.read_text().split("\n")
    returned = [int(x) for x in text[0].split(",") if x]
    return returned, int(text[1]), sent, proc.stderr.read()


def _check_rows(api: flightlog.Api, returned: list[int], n: int) -> None:
    run = api.run("sig/storm")
    assert run.state == "finished"
    rows = list(run.scan_history())
    seen = [r["i"] for r in rows]
    for r in rows:  # every row whole and consistent
        i = r["i"]
        assert (r["a"], r["b"], r["c"], r["d"]) == (2 * i, i + 0.5, -i, i % 7), r
    assert len(seen) == len(set(seen)), "a row was written twice"
    missing = set(returned) - set(seen)
    assert not missing, f"{len(missing)} rows whose log() returned are lost"
    assert set(seen) <= set(range(n))
    steps = [r["_step"] for r in rows]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)


def test_a_sigint_storm_inside_log_loses_no_returned_row(api, tmp_path) -> None:
    n = 300_000
    returned, raised, sent, err = _storm(tmp_path, exc="KeyboardInterrupt", n=n)
    assert raised > 20, f"only {raised} interrupts landed ({sent} sent): the test proves nothing"
    assert "disk error" not in err and "lost" not in err, err
    _check_rows(api, returned, n)


def test_a_scripts_own_raising_handler_inside_log_loses_no_returned_row(api, tmp_path) -> None:
    n = 200_000
    returned, raised, sent, err = _storm(tmp_path, exc="Stop", n=n)
    assert raised > 20, f"only {raised} interrupts landed ({sent} sent)"
    assert "lost" not in err, err
    _check_rows(api, returned, n)


def test_ctrl_c_then_finish_keeps_every_returned_row(api, tmp_path) -> None:
    """The common script: train until Ctrl-C, then finish() in the except clause."""
    out = tmp_path / "n.txt"
    for trial in range(8):
        code = f"""
            import flightlog
            run = flightlog.init(project="sig", id="c{trial}", settings={{"console": "off"}})
            print("ready", flush=True)
            n = 0
            try:
                while True:
                    run.log({{"i": n, "x": n * 0.5}})
                    n += 1
            except KeyboardInterrupt:
                pass
            run.finish()
            open({str(out)!r}, "w").write(str(n))
        """
        proc = spawn(code)
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(0.05 + 0.03 * trial)
        proc.send_signal(signal.SIGINT)
        assert _ended(proc) == 0, proc.stderr.read()
        n = int(out.read_text())
        rows = list(api.run(f"sig/c{trial}").scan_history())
        got = {r["i"] for r in rows}
        assert set(range(n)) <= got, f"trial {trial}: {n - len(got & set(range(n)))} rows lost"
        assert all(r["x"] == r["i"] * 0.5 for r in rows)


def test_sigterm_while_wandb_log_loops_is_quiet_and_summary_matches_history(api) -> None:
    """Slurm's time limit: SIGTERM while `wandb.log` runs in a loop. The run ends failed with
    no false UsageError, and the summary shows exactly the last row the history holds."""
    code = """
        import sys
        import flightlog as wandb
        wandb.init(project="sig", id=sys.argv[1], settings={"console": "off"})
        i = 0
        while True:
            wandb.log({"i": i, "loss": 1.0 / (i + 1)})
            if i == 1000:
                print("started", flush=True)  # a thousand rows in: the loop is hot
            i += 1
    """
    procs = [spawn(code.replace("sys.argv[1]", repr(f"term{n}"))) for n in range(4)]
    for p in procs:
        assert p.stdout.readline().strip() == "started", p.stderr.read()
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for n, p in enumerate(procs):
        assert _ended(p) == -signal.SIGTERM
        err = p.stderr.read()
        assert "UsageError" not in err and "Traceback" not in err, err
        run = api.run(f"sig/term{n}")
        assert run.state == "failed" and "SIGTERM" in run.error
        rows = list(run.scan_history())
        assert [r["i"] for r in rows] == list(range(len(rows)))
        assert run.summary["_step"] == rows[-1]["_step"]
        assert run.summary["i"] == rows[-1]["i"]


#: an interrupt lands once while log() creates a journal (the writer thread, which keeps a
#: spare ready, never ticks here): "header" right after the file was created, before its
#: header was written; "rotation" once it is whole, before log() went on in it
CUT_SHORT_SCRIPT = """
    import os, sys, threading, flightlog
    from flightlog.store import journal, rowlog
    rowlog.ROWS_CAP = 300
    cut = []
    def interrupted():
        if threading.current_thread() is threading.main_thread() and not cut and started:
            cut.append(1)
            raise KeyboardInterrupt  # what a signal handler raises at that bytecode
    if {where!r} == "header":
        real_boot_id = journal.boot_id
        def boot_id():
            interrupted()
            return real_boot_id()
        journal.boot_id = boot_id
    else:
        class Journal(rowlog.JournalFile):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                interrupted()
        rowlog.JournalFile = Journal
    started = False
    run = flightlog.init(project="sig", id="cut", settings={{
        "console": "off", "stats_interval": 0, "flush_interval": 60}})
    started = True
    returned = []
    for i in range(5000):
        try:
            run.log({{"i": i, "x": i / 4}})
            returned.append(i)
        except KeyboardInterrupt:
            pass
    with open({out!r}, "w") as f:
        f.write(",".join(map(str, returned)))
    assert cut, "the interrupt never landed"
    if {end!r} == "kill":
        os.kill(os.getpid(), 9)
    run.finish()
"""


@pytest.mark.parametrize("end", ["kill", "finish"])
@pytest.mark.parametrize("where", ["header", "rotation"])
def test_an_interrupt_while_log_creates_a_journal_loses_no_later_row(
    api, tmp_path, where: str, end: str
) -> None:
    """The next journal's name was tried again, found taken, and every later row stayed in
    memory only: a kill -9 lost them all (and so did a finish() that left a backlog to the
    journals). Now every returned row is read back, in order, and a finished writer leaves
    no journal behind."""
    out = tmp_path / "returned.txt"
    proc = spawn(CUT_SHORT_SCRIPT.format(where=where, end=end, out=str(out)))
    code = _ended(proc)
    err = proc.stderr.read()
    assert code == (-signal.SIGKILL if end == "kill" else 0), err
    assert "cannot create a journal" not in err, err
    returned = [int(x) for x in out.read_text().split(",")]
    assert len(returned) == 4999
    run = api.run("sig/cut")
    assert [r["i"] for r in run.scan_history()] == returned
    if end == "finish":
        assert not list(run.paths.history.glob("*.journal"))
