"""A Slurm job killed with SIGKILL (node failure, OOM, KillWait) and requeued on another
node resumes its run with `resume="allow"`: its steps continue after the last stored row,
and the run ends finished.

Found by the breaker session: within 60 s of the kill, the dead writer on the first host
still reads as running (its heartbeat is recent and its pid cannot be checked from another
host), so the resumed process joined it as a second writer of a shared run: its steps
restarted at 0 (every step logged twice, once per writer) and the run stayed `crashed`
after the resumed process finished.

The second "node" is a real process in its own UTS namespace with another hostname
(`unshare -u`), which needs root."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import flightlog
from flightlog.store.atomic import read_json

from .conftest import python_script, spawn
from .servers import wait_until

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="another hostname for the requeued job needs root and unshare(1)",
)

FIRST = """
    import sys, time, flightlog
    run = flightlog.init(project="p", id="requeue1", resume="allow")
    for i in range(1000):
        run.log({"i": i})
    print("LOGGED", flush=True)
    time.sleep(600)  # killed here, by SIGKILL
"""

SECOND = """
    import socket, flightlog
    assert socket.gethostname() == "node2"
    run = flightlog.init(project="p", id="requeue1", resume="allow")
    print("START", run.step, flush=True)
    for i in range(500):
        run.log({"i": 1000 + i})
    run.finish()
"""


def on_node2(code: str) -> subprocess.CompletedProcess[str]:
    """`code` in a real interpreter whose hostname is node2 (another machine of the job)."""
    script = f'hostname node2 && exec {sys.executable} -c "$0"'
    return subprocess.run(
        ["unshare", "-u", "sh", "-c", script, textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FLIGHTLOG_SILENT": ""},
    )


def test_requeued_job_on_another_host_continues_the_steps(api: flightlog.Api) -> None:
    first = spawn(FIRST)
    assert first.stdout is not None
    try:
        wait_until(lambda: first.stdout.readline().startswith("LOGGED"), 60, "the first rows")
    finally:
        first.kill()  # every row whose log() returned is in its journal
        first.wait()
    second = on_node2(SECOND)
    assert second.returncode == 0, second.stderr
    assert "START 1000" in second.stdout, second.stdout + second.stderr
    assert "whose last heartbeat is recent" in second.stderr
    run = api.run("p/requeue1")
    rows = list(run.scan_history())
    assert [r["_step"] for r in rows] == list(range(1500))
    assert [r["i"] for r in rows] == list(range(1500))
    assert run.state == "finished"


LIVE_ON_NODE2 = """
    import socket, sys, time, flightlog
    assert socket.gethostname() == "node2"
    run = flightlog.init(project="p", id="shared01", resume="allow")
    run.log({"node2": 1})
    print("LOGGED", flush=True)
    time.sleep(600)
"""


def test_a_resume_joins_a_writer_of_another_host_that_is_alive(store: Path) -> None:
    """The wait must not take a live writer elsewhere for a dead one: its heartbeat moves,
    and the resume joins it as a writer of the same generation (a shared run)."""
    script = f'hostname node2 && exec {sys.executable} -c "$0"'
    node2 = subprocess.Popen(
        ["unshare", "-u", "sh", "-c", script, textwrap.dedent(LIVE_ON_NODE2)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert node2.stdout is not None
        wait_until(lambda: node2.stdout.readline().startswith("LOGGED"), 60, "node2's run")
        here = python_script(
            """
            import flightlog
            run = flightlog.init(project="p", id="shared01", resume="allow")
            run.log({"here": 1})
            run.finish()
            """,
            env={"FLIGHTLOG_SILENT": ""},
        )
        assert here.returncode == 0, here.stderr
        assert "whose last heartbeat is recent" in here.stderr, here.stderr
    finally:
        node2.kill()
        node2.wait()
    writers = [read_json(p) for p in (store / "runs" / "p" / "shared01" / "writers").glob("*.json")]
    assert sorted((w["host"], w["generation"]) for w in writers if w) == [
        ("node2", 0),
        (socket.gethostname(), 0),
    ]
