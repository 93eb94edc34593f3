"""A run directory that holds history but no run.json (what an interrupted copy or rsync
of a store leaves: `files/` and `history/` come before `run.json`) is not silently
invisible: `flightlog doctor` names it and exits 1.

Found by the breaker session: such a run was left out by `runs`, `show`, the index and the
Api alike, and `doctor` said "no problems found", so its rows were lost to every tool
without a word. (An unreadable run.json is listed with `!`; a missing one was not.)"""

from __future__ import annotations

from pathlib import Path

import flightlog

from .conftest import cli


def test_doctor_names_a_run_directory_without_run_json(store: Path) -> None:
    for name in ("kept", "headless"):
        run = flightlog.init(project="p", name=name, reinit=True)
        for i in range(100):
            run.log({"loss": 1.0 / (i + 1)})
        run.finish(quiet=True)
    (Path(run.dir) / "run.json").unlink()
    res = cli("doctor", "--root", str(store))
    assert res.returncode == 1, res.stdout + res.stderr
    (line,) = [ln for ln in res.stdout.splitlines() if run.id in ln]
    assert "run.json" in line and "missing" in line, line
