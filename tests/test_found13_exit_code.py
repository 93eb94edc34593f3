"""A script that ends with sys.exit(1) (the loss went NaN, a check failed) ran unsuccessfully:
its run is failed, as wandb records it, not finished, and resume="auto" continues it; one
that ends with sys.exit(0), inside `with wandb.init() as run:` too, finished. Found by the
session-13 breaker."""

from __future__ import annotations

import pytest

import flightlog

from .conftest import python_script

SCRIPT = """
import sys
import flightlog as wandb
run = wandb.init(project="p")
run.log({{"loss": float("nan")}})
print(run.id)
{end}
"""


@pytest.mark.parametrize(
    ("end", "code", "state", "error"),
    [
        ("sys.exit(3)", 3, "failed", "exit code 3"),
        ("sys.exit('loss is NaN')", 1, "failed", "loss is NaN"),
    ],
)
def test_a_nonzero_sys_exit_fails_the_run(
    api: flightlog.Api, end: str, code: int, state: str, error: str
) -> None:
    res = python_script(SCRIPT.format(end=end))
    assert res.returncode == code, res.stderr
    run = api.run(f"p/{res.stdout.split()[0]}")
    assert run.state == state
    assert error in (run.error or "")


@pytest.mark.parametrize("end", ["sys.exit(0)", "sys.exit()", "sys.exit(None)", "pass"])
def test_a_zero_exit_finishes_the_run(api: flightlog.Api, end: str) -> None:
    res = python_script(SCRIPT.format(end=end))
    assert res.returncode == 0, res.stderr
    run = api.run(f"p/{res.stdout.split()[0]}")
    assert run.state == "finished" and not run.error


def test_a_zero_exit_inside_the_with_block_finishes_the_run(api: flightlog.Api) -> None:
    res = python_script(
        """
        import sys
        import flightlog as wandb
        with wandb.init(project="p") as run:
            run.log({"loss": 0.5})
            print(run.id)
            sys.exit(0)
        """
    )
    assert res.returncode == 0, res.stderr
    run = api.run(f"p/{res.stdout.split()[0]}")
    assert run.state == "finished" and not run.error
