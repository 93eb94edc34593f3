"""A script that reads a run's history through `flightlog.Api` and exits, exits cleanly.

Once in a full suite (and 6 times in 850 runs of such a script under load) it did not: exit
code 134, "terminate called without an active exception". A core dump showed an Arrow pool
thread freeing the last reference to a parquet decode task's source buffer, a wrapper of
Python bytes, after the interpreter had begun to finalize: the wrapper's destructor takes the
GIL, the interpreter ends such a thread with pthread_exit, and unwinding through a noexcept
destructor calls std::terminate (store/arrow_owned.py; DuckDB was not even imported).

Load made it rare; the child here makes it near certain, on Linux. It runs on one CPU, and
Arrow's pool threads (started from a SCHED_IDLE thread, whose policy they inherit) lose the
CPU to the main thread the moment they wake it with a read's result, before they drop their
references. The main thread then drops its own, takes the GIL and keeps it (a switch interval
of 100 s) while it spins until the pool thread has run again: before the fix, that thread
now waits for the GIL to free the Python object. Last, the exit sleeps in a finalizer, which
hands the GIL over after finalization began. Each knob only moves when a thread runs; none
changes what flightlog reads or how.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

import flightlog

from .conftest import python_script, settled

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(os, "SCHED_IDLE"),
    reason="the child sets Linux scheduling policies and reads /proc",
)

CHILD = """
import contextlib, ctypes, io, os, random, sys, threading, time
with contextlib.suppress(OSError):  # (where it is refused, the race is only not forced)
    os.sched_setaffinity(0, {{random.choice(sorted(os.sched_getaffinity(0)))}})  # one CPU
import pyarrow as pa, pyarrow.parquet as pq
import flightlog

def start_idle_pool():
    with contextlib.suppress(OSError):  # inherited by the threads it starts
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    sink = io.BytesIO()
    pq.write_table(pa.table({{f"c{{i}}": list(range(100)) for i in range(16)}}), sink)
    pq.ParquetFile(pa.BufferReader(sink.getvalue())).read()

t = threading.Thread(target=start_idle_pool)
t.start()
t.join()
run = flightlog.Api({store!r}).run("p/r")
{read}  # imports and first uses: the read below is the last thing before the exit
pool = [int(t) for t in os.listdir("/proc/self/task")
        if os.sched_getscheduler(int(t)) == os.SCHED_IDLE]

def runnable(pool=pool, libc=ctypes.PyDLL(None), buf=ctypes.create_string_buffer(512)):
    \"\"\"Whether a pool thread waits for the CPU, read from /proc holding the GIL (os.read
    would let it go).\"\"\"
    for tid in pool:
        fd = libc.open(f"/proc/self/task/{{tid}}/stat".encode(), 0)
        if fd >= 0:
            n = libc.read(fd, buf, 511)
            libc.close(fd)
            if n > 0 and buf.raw[:n].rsplit(b")", 1)[-1].split()[:1] == [b"R"]:
                return True
    return False

def thread_states(api=ctypes.pythonapi):
    \"\"\"How many thread states the interpreter has: a pool thread that asks for the GIL gets
    one (PyGILState_Ensure) until it lets the GIL go.\"\"\"
    api.PyInterpreterState_Get.restype = api.PyInterpreterState_ThreadHead.restype = ctypes.c_void_p
    api.PyInterpreterState_ThreadHead.argtypes = api.PyThreadState_Next.argtypes = [ctypes.c_void_p]
    api.PyThreadState_Next.restype = ctypes.c_void_p
    n, t = 0, api.PyInterpreterState_ThreadHead(api.PyInterpreterState_Get())
    while t:
        n, t = n + 1, api.PyThreadState_Next(t)
    return n

class SlowExit:
    waits = False

    def __del__(self, time=time):
        \"\"\"Finalizing: the GIL goes to a pool thread that waits for it.\"\"\"
        if self.waits:
            time.sleep(30)

slow_exit = SlowExit()
sys.setswitchinterval(100.0)
alone = thread_states()
for attempt in range(20):  # until a pool thread lost the CPU as it handed a read's rows over
    rows = {read}
    if runnable():
        break
deadline = time.monotonic() + 30
while runnable() and time.monotonic() < deadline:
    pass  # the pool thread runs: back to its queue, or to wait for the GIL this one holds
slow_exit.waits = thread_states() > alone
print(len(rows), flush=True)
{ending}
"""

ENDINGS = {  # how the script ends -> (its code, the exit code, what stderr ends with)
    "normally": ("", 0, ""),
    "by exception": ("raise ValueError('bad metric')", 1, "ValueError: bad metric\n"),
    "by sys.exit": ("sys.exit(3)", 3, ""),
    "by KeyboardInterrupt": ("raise KeyboardInterrupt", -signal.SIGINT, "KeyboardInterrupt\n"),
}


@pytest.fixture
def logged(store: Path) -> Path:
    """A finished 100-step run, its history one sealed parquet segment."""
    run = flightlog.init(project="p", id="r", settings={"console": "off"})
    for i in range(100):
        run.log({"loss": 1.0 / (i + 1), "acc": i})
    run.finish(quiet=True)
    settled(run)
    assert list((Path(run.dir) / "history").glob("*.parquet"))
    return store


READS = {"history": "run.history()", "scan_history": "list(run.scan_history())"}
CASES = [("history", ending) for ending in ENDINGS] + [("scan_history", "normally")]


@pytest.mark.parametrize(("read", "ending"), CASES)
def test_a_script_exits_cleanly_right_after_reading_a_history(
    logged: Path, read: str, ending: str
) -> None:
    code, exit_code, tail = ENDINGS[ending]
    child = CHILD.format(store=str(logged), read=READS[read], ending=code)
    res = python_script(child, env={"PYTHONFAULTHANDLER": "1"}, timeout=120)
    assert (res.returncode, res.stdout) == (exit_code, "100\n"), res.stderr
    assert res.stderr.endswith(tail) and "Fatal Python error" not in res.stderr, res.stderr
    if not tail:
        assert res.stderr == ""
