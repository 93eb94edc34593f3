"""A writer killed with kill -9 before a heartbeat recorded a logged row: its summary had no
`_runtime` (a fresh run), or kept the earlier generation's (a resumed one), while `_step`
and `_timestamp` were caught up with its stored rows - `flightlog runs` showed the run's
runtime as missing, or as the first job's only, after a requeued job ran on."""

from __future__ import annotations

import pytest

import flightlog

from .conftest import python_script

KILLED = """
import os, signal
import flightlog
run = flightlog.init(project="p", id="rt1", resume="allow", settings={{"heartbeat_interval": 30}})
for i in range(20):
    run.log({{"loss": {base} + i}})
os.kill(os.getpid(), signal.SIGKILL)
"""


def _runtime_matches_history(api: flightlog.Api) -> None:
    run = api.run("p/rt1")
    assert run.state == "crashed"
    last = list(run.scan_history())[-1]
    summary = dict(run.summary)
    assert summary["_step"] == last["_step"], summary
    assert summary["_timestamp"] == pytest.approx(last["_timestamp"])
    assert summary.get("_runtime") == pytest.approx(last["_runtime"]), (summary, last)


def test_a_run_killed_before_its_first_beat_has_a_runtime(api: flightlog.Api) -> None:
    res = python_script(KILLED.format(base=0.0))
    assert res.returncode == -9, res.stderr
    _runtime_matches_history(api)


def test_a_resumed_run_killed_before_its_first_beat_has_its_runtime(
    api: flightlog.Api,
) -> None:
    for base in (0.0, 100.0):
        res = python_script(KILLED.format(base=base))
        assert res.returncode == -9, res.stderr
    _runtime_matches_history(api)
