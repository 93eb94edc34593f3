"""sys.exit() that does not end the process leaves the run's state alone: a SystemExit the
script catches (argparse's parse_args in a try, a CLI's --help inside a notebook-like
loop, a test of a command) or a worker thread's sys.exit(1) (which ends that thread only)
is no exit code of the process, which ends 0. The run is finished, not failed with
"exit code 2", and resume="auto" does not take it up again. Found by the session-13
re-breaker (the sys.exit wrapper of 50f25f3 noted every call)."""

from __future__ import annotations

import pytest

import flightlog

from .conftest import python_script

CAUGHT = """
import argparse
import flightlog as wandb
run = wandb.init(project="p")
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
try:
    args = parser.parse_args([])
except SystemExit:  # no --lr given: the script's default
    args = argparse.Namespace(lr=0.1)
run.log({"loss": 0.5})
print(run.id)
"""

THREAD = """
import sys, threading
import flightlog as wandb
run = wandb.init(project="p")
worker = threading.Thread(target=sys.exit, args=(1,))  # ends the worker, not the process
worker.start()
worker.join()
run.log({"loss": 0.5})
print(run.id)
"""


@pytest.mark.parametrize("script", [CAUGHT, THREAD], ids=["caught", "thread"])
def test_a_sys_exit_that_does_not_end_the_process_leaves_the_run_finished(
    api: flightlog.Api, script: str
) -> None:
    res = python_script(script)
    assert res.returncode == 0, res.stderr
    run = api.run(f"p/{res.stdout.split()[0]}")
    assert (run.state, run.error) == ("finished", None)


def test_the_exit_that_ends_the_process_after_a_caught_one_still_counts(
    api: flightlog.Api,
) -> None:
    res = python_script(CAUGHT + "import sys\nsys.exit(4)\n")
    assert res.returncode == 4, res.stderr
    run = api.run(f"p/{res.stdout.split()[0]}")
    assert run.state == "failed"
    assert "exit code 4" in (run.error or "")
