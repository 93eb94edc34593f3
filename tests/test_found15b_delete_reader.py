"""A run object an Api reader holds (a notebook's `run = api.run("p/x")`) while another
process deletes that run (`flightlog.Api().run("p/x").delete()`): reading it again must say
the run is gone (NotFoundError, as `api.run("p/x")` and a second delete() do), not answer as
if it were an empty run. It answers empty: history() a table of no rows, scan_history()
nothing, load() a run.json of its id and project alone, history_keys lastStep -1 - all
without a word, so a notebook plots nothing, or reports a run that never logged."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog
from flightlog._errors import NotFoundError

from .conftest import python_script, settled


def test_a_run_deleted_by_another_process_is_not_read_as_an_empty_run(store: Path) -> None:
    run = flightlog.init(project="p", id="x", name="named")
    for i in range(10):
        run.log({"loss": float(i)})
    run.finish(quiet=True)
    settled(run)
    held = flightlog.Api(store).run("p/x")
    assert held.history(pandas=False).num_rows == 10
    gone = python_script("import flightlog; flightlog.Api().run('p/x').delete()")
    assert gone.returncode == 0, gone.stderr
    with pytest.raises(NotFoundError):
        flightlog.Api(store).run("p/x")  # (what a new look says)
    with pytest.raises(NotFoundError):
        held.history(pandas=False)
    with pytest.raises(NotFoundError):
        held.load()
