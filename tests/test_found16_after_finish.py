"""Metadata changed after `run.finish()` (session 16's fault hunt): the seed's
`run.name = run.id; run.save()` and wandb's log_artifact at the end of a script, after the
run was finished. `save()` flushed a writer that had closed: IndexError from the journals
(or, while the writer thread still sealed, a 10 s wait for a tick that never came)."""

from __future__ import annotations

import json
from pathlib import Path

import flightlog

from .conftest import python_script, settled


def test_a_rename_saved_after_finish_is_persisted(api: flightlog.Api) -> None:
    run = flightlog.init(project="a")
    run.log({"x": 1})
    run.finish()
    settled()  # the writer thread has closed too
    run.name = run.id
    run.save()
    assert api.run(f"a/{run.id}").name == run.id


def test_log_artifact_after_finish_is_listed_with_the_run(tmp_path: Path) -> None:
    """In a real script, right after finish() (the writer thread still sealing)."""
    res = python_script(
        """
        import json, flightlog
        open("m.bin", "wb").write(b"weights")
        run = flightlog.init(project="a", id="late")
        run.log({"x": 1})
        run.finish()
        art = run.log_artifact("m.bin", name="net", type="model")
        print("LOGGED", art.version)
        """,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert "LOGGED v0" in res.stdout
    meta = json.loads(next((tmp_path / "store").rglob("late/run.json")).read_text())
    assert [(a["name"], a["version"]) for a in meta["artifacts"]] == [("net", "v0")]
