"""Ctrl-C (or any exception a signal handler raises) while init() creates a new run with a
given id, after the run's directory was made and before its run.json was written: the
directory stayed, empty of a run, and the script run again with that id waited a minute for
a run.json that no process would write, then failed ("remove that directory"). Now a
creation cut short removes what it made, and the id can be used again at once."""

from __future__ import annotations

from pathlib import Path

import flightlog

from .conftest import python_script

#: an interrupt once the new run's writer exists, before run.json is written (what a
#: signal handler raises at that bytecode); then the script's rerun, in the same process
SCRIPT = """
    import flightlog
    from flightlog import _init
    from flightlog.store.writer import RunWriter
    _init.CREATE_WAIT = 5  # (a minute, before, then a ResumeError)
    real = RunWriter.write_state
    cut = []
    def write_state(self, *args, **kwargs):
        if not cut:
            cut.append(1)
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)
    RunWriter.write_state = write_state
    try:
        flightlog.init(project="p", id="again", settings={"console": "off"})
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    run = flightlog.init(project="p", id="again", settings={"console": "off"})
    run.log({"i": 1})
    run.finish()
"""


def test_a_run_creation_cut_short_leaves_the_id_free(api: flightlog.Api, store: Path) -> None:
    done = python_script(SCRIPT)
    assert done.stdout.startswith("interrupted"), done.stdout
    assert done.returncode == 0, done.stderr
    run = api.run("p/again")
    assert run.state == "finished"
    assert [r["i"] for r in run.scan_history()] == [1]
